"""`p8seg.inference` (what `p8seg predict` calls): loading any saved model, predicting, writing the masks, and bad input;
each bad case is one line naming the file and what to do, and `predict` over a folder skips a bad file with a report and
writes all the good ones. The tiny models and photos are the session fixtures of conftest."""
import struct, zlib

import cv2
import numpy as np
import pytest

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from conftest import one_line
from p8seg.config import P8segError
from p8seg.sources import load_file_paths
from p8seg.data import read_image
from p8seg.inference import load_model, read_photo, run_predict, predict, MAX_IMAGE_PIXELS


def _huge_png(path, width=60000, height=60000):
    "A valid small PNG whose header (IHDR, checksum fixed) claims width x height pixels."
    cv2.imwrite(str(path), np.zeros((4, 6, 3), np.uint8))
    head = bytearray(path.read_bytes())
    head[16:24] = struct.pack(">II", width, height)
    head[29:33] = struct.pack(">I", zlib.crc32(bytes(head[12:29])))
    path.write_bytes(bytes(head))
    return path


# --- predicting ------------------------------------------------------------------------------

def test_run_predict_writes_three_pngs_per_image(tiny_setup, tmp_path):
    _, root, model_path = tiny_setup
    images, _ = load_file_paths(root, "val")
    written = run_predict(model_path, [images[0], root / "leftImg8bit" / "test"], tmp_path / "pred")
    assert len(written) == 3 * 2
    stem = images[0].stem
    category = cv2.imread(str(tmp_path / "pred" / f"{stem}_category.png"), cv2.IMREAD_UNCHANGED)
    assert category.shape == (64, 128) and category.dtype == np.uint8 and category.max() <= 7
    color = cv2.imread(str(tmp_path / "pred" / f"{stem}_color.png"))
    overlay = cv2.imread(str(tmp_path / "pred" / f"{stem}_overlay.png"))
    assert color.shape == overlay.shape == (64, 128, 3)


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.keras"):
        load_model(tmp_path / "nothing.keras")


# --- photos -----------------------------------------------------------------------------------

def test_not_an_image_in_folder_is_skipped_and_good_ones_written(models, photos, tmp_path, capsys):
    (photos / "notes.png").write_text("this is not a photo")          # an image suffix, but text inside
    (photos / "readme.txt").write_text("left out: not an image suffix")
    written = run_predict(models / "good.keras", photos, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f"good{i}_{k}.png" for i in (0, 1) for k in ("category", "color", "overlay"))
    assert all(p.is_file() for p in written)
    out = capsys.readouterr()
    skip = [line for line in out.err.splitlines() if line.startswith("skipped")]
    assert len(skip) == 1 and "notes.png: cannot decode" in skip[0] and "convert it to an 8-bit PNG or JPEG" in skip[0]
    assert "readme.txt" not in out.out and "left out 1 files that are not images (.txt)" in out.err
    assert "wrote 6 files for 2 images" in out.out and "skipped 1:" in out.out and "notes.png" in out.out


def test_only_bad_inputs_is_an_error(models, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        run_predict(models / "good.keras", [tmp_path / "missing.png"], tmp_path / "out")
    bad = tmp_path / "notes.png"; bad.write_text("not a photo")
    with pytest.raises(P8segError, match=f"{bad}: cannot decode .*convert it to an 8-bit PNG or JPEG") as err:
        run_predict(models / "good.keras", [bad], tmp_path / "out")        # one input: its own error
    one_line(err)
    other = tmp_path / "data.jpg"; other.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(P8segError, match=f"none of the 2 input files could be read as a photo \\({bad}, {other}: ") as err:
        run_predict(models / "good.keras", [bad, other], tmp_path / "out")
    one_line(err)
    assert not list((tmp_path / "out").iterdir())


def test_empty_folder_names_it(models, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(P8segError, match=f"no image files .* in folder {tmp_path / 'empty'}: give a folder of photos") as err:
        run_predict(models / "good.keras", tmp_path / "empty", tmp_path / "out")
    one_line(err)


def test_huge_photo_refused_from_its_header(tmp_path):
    huge = _huge_png(tmp_path / "huge.png")
    with pytest.raises(P8segError, match=r"huge.png: 60000x60000 pixels \(3600 megapixels\) is over the limit of 100 "
                                         r"megapixels: downscale it") as err:
        read_photo(huge)
    one_line(err)
    just_over = _huge_png(tmp_path / "big.png", 12000, 9000)          # 108 megapixels: over the documented limit
    assert 12000 * 9000 > MAX_IMAGE_PIXELS
    with pytest.raises(P8segError, match="big.png: 12000x9000 pixels"):
        read_photo(just_over)


def test_huge_photo_in_folder_is_skipped(models, photos, tmp_path, capsys):
    _huge_png(photos / "huge.png")
    written = run_predict(models / "good.keras", photos, tmp_path / "out")
    assert len(written) == 6
    assert "skipped " + str(photos / "huge.png") + ": 60000x60000" in capsys.readouterr().err


def test_large_reasonable_photo_just_works(models, tmp_path):
    photo = tmp_path / "large.jpg"
    big = np.zeros((3000, 4000, 3), np.uint8); big[:, 2000:] = 200
    cv2.imwrite(str(photo), big)
    written = run_predict(models / "good.keras", [photo], tmp_path / "out")
    mask = cv2.imread(str(written[0]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (3000, 4000) and mask.max() <= 7


def test_grayscale_and_rgba_photos_are_predicted(models, photos, tmp_path):
    rgb = read_image(photos / "good0.png")
    cv2.imwrite(str(photos / "gray.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    bgra = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA); bgra[..., 3] = 0        # fully transparent: alpha is dropped
    cv2.imwrite(str(photos / "rgba.png"), bgra)
    written = run_predict(models / "good.keras", photos, tmp_path / "out")
    assert len(written) == 12
    read = lambda name: cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(read("rgba_category.png"), read("good0_category.png"))
    assert read("gray_category.png").shape == rgb.shape[:2]


def test_same_name_in_two_folders_both_written(models, photos, tmp_path, capsys):
    other = tmp_path / "other"; other.mkdir()
    (other / "good0.png").write_bytes((photos / "good1.png").read_bytes())
    written = run_predict(models / "good.keras", [photos, other], tmp_path / "out")
    assert len(written) == 9 and len(set(written)) == 9
    assert (tmp_path / "out" / "good0_2_category.png").is_file()
    assert "written as good0_2_*.png" in capsys.readouterr().err


# --- models -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cut", ["garbage", "truncated", "empty"])
def test_corrupt_keras_file_names_it(models, tmp_path, cut):
    content = (models / "good.keras").read_bytes()
    bad = tmp_path / "model.keras"
    bad.write_bytes({"garbage": b"not a model at all", "truncated": content[: len(content) // 2], "empty": b""}[cut])
    with pytest.raises(P8segError, match=f"{bad} is not a valid/complete .keras file .*re-save it") as err:
        load_model(bad)
    one_line(err)


@pytest.mark.parametrize("cut", ["garbage", "truncated", "empty"])
def test_corrupt_tflite_file_names_it(models, tmp_path, cut):
    content = (models / "good.tflite").read_bytes()
    bad = tmp_path / "model.tflite"
    bad.write_bytes({"garbage": b"not a flatbuffer" * 8, "truncated": content[: len(content) // 2], "empty": b""}[cut])
    with pytest.raises(P8segError, match=f"{bad} is not a valid/complete .tflite file .*re-export it") as err:
        load_model(bad)
    one_line(err)


@pytest.mark.parametrize("name", ["five.keras", "five.tflite"])
def test_model_with_wrong_class_count_names_it(models, name):
    with pytest.raises(P8segError, match=rf"{name}: the model's output \(None, 32, 64, 5\) is not .* 8 categories") as err:
        load_model(models / name)
    one_line(err)


def test_model_with_wrong_input_names_it(models):
    with pytest.raises(P8segError, match=r"gray.keras: expected a model input of shape \(batch, height, width, 3\), "
                                         r"got \(None, 32, 64, 1\)") as err:
        load_model(models / "gray.keras")
    one_line(err)


def test_in_memory_model_with_wrong_class_count_at_predict(models):
    model = tf.keras.models.load_model(models / "five.keras", compile=False)   # not through load_model
    with pytest.raises(P8segError, match="not \\(height, width, 8\\)"):
        predict(model, [np.zeros((64, 128, 3), np.uint8)])


def test_tflite_works_where_it_should(models, photos, tmp_path):
    written = run_predict(models / "good.tflite", photos, tmp_path / "out")
    assert len(written) == 6


# --- output folder ----------------------------------------------------------------------------

def test_unwritable_output_folder_predict(models, photos, tmp_path):
    blocker = tmp_path / "a_file"; blocker.write_text("")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker / 'out'} .*choose a writable "
                                         "folder with --out") as err:
        run_predict(models / "good.keras", photos, blocker / "out")
    one_line(err)
