"""Bad input for `p8seg predict`, `evaluate` and `export`: each case is one line naming the file and what
to do, and `predict` over a folder skips a bad file with a report and writes all the good ones."""
import struct, zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from p8seg.config import P8segError
from p8seg.synth import make_synthetic_cityscapes
from p8seg.sources import load_file_paths
from p8seg.data import read_image
from p8seg.inference import load_model, read_photo, run_predict, predict, MAX_IMAGE_PIXELS
from p8seg.evaluate import evaluate, run_evaluate
from p8seg.export import tflite_bytes, run_export
from p8seg.cli import main


def _softmax_model(size=(32, 64), channels=3, classes=8):
    "A 1x1-convolution softmax model: tiny, fast, deterministic."
    tf.keras.utils.set_random_seed(0)
    x = tf.keras.Input((*size, channels))
    return tf.keras.Model(x, tf.keras.layers.Conv2D(classes, 1, activation="softmax")(x))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    "Saved tiny models: a good .keras and its .tflite, one with 5 classes (.keras and .tflite), one taking gray input."
    d = tmp_path_factory.mktemp("models")
    good = _softmax_model(); good.save(d / "good.keras")
    (d / "good.tflite").write_bytes(tflite_bytes(good))
    five = _softmax_model(classes=5); five.save(d / "five.keras")
    (d / "five.tflite").write_bytes(tflite_bytes(five))
    _softmax_model(channels=1).save(d / "gray.keras")
    return d


@pytest.fixture
def photos(tmp_path):
    "A folder of two good photos (64x128 PNG), and the synthetic root they come from."
    root = make_synthetic_cityscapes(tmp_path / "data", n_train=2, n_val=2, n_test=0, size=(64, 128))
    folder = tmp_path / "photos"; folder.mkdir()
    for i, path in enumerate(load_file_paths(root, "val")[0]):
        (folder / f"good{i}.png").write_bytes(path.read_bytes())
    return folder


def _one_line(err) -> str:
    msg = str(err.value) if hasattr(err, "value") else str(err)
    assert "\n" not in msg, msg
    return msg


def _huge_png(path, width=60000, height=60000):
    "A valid small PNG whose header (IHDR, checksum fixed) claims width x height pixels."
    cv2.imwrite(str(path), np.zeros((4, 6, 3), np.uint8))
    head = bytearray(path.read_bytes())
    head[16:24] = struct.pack(">II", width, height)
    head[29:33] = struct.pack(">I", zlib.crc32(bytes(head[12:29])))
    path.write_bytes(bytes(head))
    return path


def _cli(capsys, *argv):
    "Run `p8seg ...` in process; return (exit status, stderr lines)."
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err.strip().splitlines()


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
    bad = tmp_path / "notes.png"; bad.write_text("not a photo")
    with pytest.raises(P8segError, match=f"{bad}: cannot decode .*convert it to an 8-bit PNG or JPEG") as err:
        run_predict(models / "good.keras", [bad], tmp_path / "out")        # one input: its own error
    _one_line(err)
    other = tmp_path / "data.jpg"; other.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(P8segError, match=f"none of the 2 input files could be read as a photo \\({bad}, {other}: ") as err:
        run_predict(models / "good.keras", [bad, other], tmp_path / "out")
    _one_line(err)
    assert not list((tmp_path / "out").iterdir())


def test_empty_folder_names_it(models, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(P8segError, match=f"no image files .* in folder {tmp_path / 'empty'}: give a folder of photos") as err:
        run_predict(models / "good.keras", tmp_path / "empty", tmp_path / "out")
    _one_line(err)


def test_huge_photo_refused_from_its_header(tmp_path):
    huge = _huge_png(tmp_path / "huge.png")
    with pytest.raises(P8segError, match=r"huge.png: 60000x60000 pixels \(3600 megapixels\) is over the limit of 100 "
                                         r"megapixels: downscale it") as err:
        read_photo(huge)
    _one_line(err)
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


def test_grayscale_and_rgba_photos_are_evaluated(models, tmp_path):
    root = make_synthetic_cityscapes(tmp_path / "data", n_train=2, n_val=2, n_test=0, size=(64, 128))
    model = load_model(models / "good.keras")
    before = evaluate(model, root, "val")
    gray, rgba = load_file_paths(root, "val")[0]
    cv2.imwrite(str(rgba), cv2.cvtColor(read_image(rgba), cv2.COLOR_RGB2BGRA))
    after = evaluate(model, root, "val")
    np.testing.assert_array_equal(after.per_image.miou[1], before.per_image.miou[1])   # alpha dropped: same photo
    cv2.imwrite(str(gray), cv2.cvtColor(read_image(gray), cv2.COLOR_RGB2GRAY))
    assert len(evaluate(model, root, "val").per_image) == 2


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
    _one_line(err)


@pytest.mark.parametrize("cut", ["garbage", "truncated", "empty"])
def test_corrupt_tflite_file_names_it(models, tmp_path, cut):
    content = (models / "good.tflite").read_bytes()
    bad = tmp_path / "model.tflite"
    bad.write_bytes({"garbage": b"not a flatbuffer" * 8, "truncated": content[: len(content) // 2], "empty": b""}[cut])
    with pytest.raises(P8segError, match=f"{bad} is not a valid/complete .tflite file .*re-export it") as err:
        load_model(bad)
    _one_line(err)


@pytest.mark.parametrize("name", ["five.keras", "five.tflite"])
def test_model_with_wrong_class_count_names_it(models, name):
    with pytest.raises(P8segError, match=rf"{name}: the model's output \(None, 32, 64, 5\) is not .* 8 categories") as err:
        load_model(models / name)
    _one_line(err)


def test_model_with_wrong_input_names_it(models):
    with pytest.raises(P8segError, match=r"gray.keras: expected a model input of shape \(batch, height, width, 3\), "
                                         r"got \(None, 32, 64, 1\)") as err:
        load_model(models / "gray.keras")
    _one_line(err)


def test_in_memory_model_with_wrong_class_count_at_predict(models):
    model = tf.keras.models.load_model(models / "five.keras", compile=False)   # not through load_model
    with pytest.raises(P8segError, match="not \\(height, width, 8\\)"):
        predict(model, [np.zeros((64, 128, 3), np.uint8)])


def test_tflite_given_to_export(models, tmp_path):
    with pytest.raises(P8segError, match=f"{models / 'good.tflite'} is a .tflite file, which cannot be exported again: "
                                         "export the Keras model it came from") as err:
        run_export(models / "good.tflite", "tflite", out=tmp_path / "x.tflite")
    _one_line(err)
    assert not (tmp_path / "x.tflite").exists()


def test_tflite_works_where_it_should(models, photos, tmp_path):
    written = run_predict(models / "good.tflite", photos, tmp_path / "out")
    assert len(written) == 6


# --- output folders ---------------------------------------------------------------------------

def test_unwritable_output_folder_predict(models, photos, tmp_path):
    blocker = tmp_path / "a_file"; blocker.write_text("")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker / 'out'} .*choose a writable "
                                         "folder with --out") as err:
        run_predict(models / "good.keras", photos, blocker / "out")
    _one_line(err)


def test_unwritable_output_folder_evaluate(models, tmp_path):
    blocker = tmp_path / "a_file"; blocker.write_text("")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker / 'eval'}"):
        run_evaluate(models / "good.keras", tmp_path / "no_data_needed", out_dir=blocker / "eval")


def test_unwritable_output_folder_export(models, tmp_path):
    blocker = tmp_path / "a_file"; blocker.write_text("")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker}"):
        run_export(models / "good.keras", "tflite", out=blocker / "model.tflite")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker / 'saved'}"):
        run_export(models / "good.keras", "savedmodel", out=blocker / "saved")


# --- the command line: one line, exit 1 ---------------------------------------------------------

def test_cli_bad_model_is_one_line(models, photos, tmp_path, capsys):
    bad = tmp_path / "cut.keras"; bad.write_bytes((models / "good.keras").read_bytes()[:100])
    status, err = _cli(capsys, "predict", bad, photos / "good0.png", "--out", tmp_path / "out")
    assert status == 1 and len(err) == 1 and err[0].startswith(f"p8seg: error: {bad} is not a valid/complete .keras")


def test_cli_wrong_class_count_is_one_line(models, photos, tmp_path, capsys):
    status, err = _cli(capsys, "predict", models / "five.keras", photos, "--out", tmp_path / "out")
    assert status == 1 and len(err) == 1 and err[0].startswith(f"p8seg: error: {models / 'five.keras'}: the model's output")


def test_cli_export_tflite_is_one_line(models, capsys):
    status, err = _cli(capsys, "export", models / "good.tflite")
    assert status == 1 and len(err) == 1 and err[0].startswith(f"p8seg: error: {models / 'good.tflite'} is a .tflite file")


def test_cli_empty_folder_is_one_line(models, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status, err = _cli(capsys, "predict", models / "good.keras", tmp_path / "empty", "--out", tmp_path / "out")
    assert status == 1 and len(err) == 1 and err[0].startswith("p8seg: error: no image files")
