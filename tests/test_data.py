"""`p8seg.sources` and `p8seg.data` on bad input: each case is a clear error naming the file (or a documented rule), never
a silent skip. Decoding (`read_image`: gray and RGBA photos, corrupt files) is tested here once: `predict`, `evaluate`
and the pipeline all read photos through it."""
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import p8seg  # before tensorflow: Keras 2
from p8seg import data
from p8seg.sources import load_file_paths
from p8seg.synth import make_synthetic_cityscapes, default_data_root
from p8seg.data import read_image, read_label_ids


@pytest.fixture
def root(tmp_path):
    return make_synthetic_cityscapes(tmp_path / "cs", n_train=4, n_val=2, n_test=1, size=(32, 64), seed=1)


def _pair(root, split="train", i=0):
    images, masks = load_file_paths(root, split)
    return images[i], masks[i]


# --- layout ---------------------------------------------------------------------------------

def test_missing_root_names_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.*leftImg8bit"):
        load_file_paths(tmp_path / "nowhere", "train")


def test_missing_split_names_folder(root):
    with pytest.raises(FileNotFoundError, match=r"leftImg8bit/extra.*split 'extra'"):
        load_file_paths(root, "extra")
    (root / "leftImg8bit" / "extra").mkdir()
    with pytest.raises(FileNotFoundError, match=r"gtFine/extra"):
        load_file_paths(root, "extra")


def test_empty_split_is_an_error(root):
    for tree in ("leftImg8bit", "gtFine"): (root / tree / "empty" / "city").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no files for split 'empty'"):
        load_file_paths(root, "empty")


def test_unpaired_files_are_listed_or_skipped_with_report(root, capsys):
    images, masks = load_file_paths(root, "train")
    image, mask, other_mask, other_image = images[1], masks[1], masks[2], images[0]
    mask.unlink()                                          # a photo without mask
    with pytest.raises(ValueError, match="unpaired") as err:
        load_file_paths(root, "train")
    assert image.name in str(err.value)
    images[2].unlink()                                     # and a mask without photo
    with pytest.raises(ValueError) as err:
        load_file_paths(root, "train")
    assert image.name in str(err.value) and other_mask.name in str(err.value)
    images, masks = load_file_paths(root, "train", strict=False)
    assert len(images) == 2 and other_image in images
    report = capsys.readouterr().err
    assert image.name in report and other_mask.name in report
    for i, m in zip(images, masks):                       # still paired by stem
        assert i.name.replace("_leftImg8bit.png", "") == m.name.replace("_gtFine_labelIds.png", "")


def test_pairing_is_by_stem_not_position(root):
    # an extra, unrelated photo sorting first must not shift the pairs: it is reported instead
    extra = root / "leftImg8bit" / "train" / "aachen" / "aaa_000000_000019_leftImg8bit.png"
    extra.write_bytes(_pair(root)[0].read_bytes())
    with pytest.raises(ValueError, match="aaa_000000_000019"):
        load_file_paths(root, "train")


def test_default_data_root_bad_env(tmp_path, monkeypatch):
    monkeypatch.setenv("P8SEG_DATA", str(tmp_path / "no_such_dir"))
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        default_data_root()


# --- decoding -------------------------------------------------------------------------------

def test_corrupt_png_names_file(root):
    image, mask = _pair(root)
    image.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match=image.name):
        read_image(image)
    mask.write_bytes(b"")
    with pytest.raises(ValueError, match=mask.name):
        read_label_ids(mask)


def test_truncated_png_names_file(root):
    image, mask = _pair(root)
    for path in (image, mask):
        content = path.read_bytes()
        path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=f"{image.name}.*truncated"):
        read_image(image)
    with pytest.raises(ValueError, match=mask.name):
        read_label_ids(mask)


def test_missing_file_names_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.png"):
        read_image(tmp_path / "gone.png")


def test_grayscale_photo_is_replicated_to_rgb(tmp_path):
    gray = np.arange(24, dtype=np.uint8).reshape(4, 6)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    rgb = read_image(tmp_path / "g.png")
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    for channel in range(3): np.testing.assert_array_equal(rgb[..., channel], gray)


def test_rgba_photo_drops_alpha(tmp_path):
    bgra = np.zeros((4, 6, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 0   # fully transparent
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    rgb = read_image(tmp_path / "a.png")
    assert rgb.shape == (4, 6, 3)
    np.testing.assert_array_equal(rgb[0, 0], [30, 20, 10])                  # RGB order, alpha ignored


def test_16bit_photo_is_an_error(tmp_path):
    cv2.imwrite(str(tmp_path / "deep.png"), np.zeros((4, 6, 3), np.uint16))
    with pytest.raises(ValueError, match="deep.png.*8-bit"):
        read_image(tmp_path / "deep.png")


def test_label_mask_must_be_single_channel_uint8(tmp_path):
    cv2.imwrite(str(tmp_path / "color.png"), np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(ValueError, match="color.png.*single-channel"):
        read_label_ids(tmp_path / "color.png")
    cv2.imwrite(str(tmp_path / "ids16.png"), np.zeros((4, 6), np.uint16))
    with pytest.raises(ValueError, match="ids16.png.*uint8"):
        read_label_ids(tmp_path / "ids16.png")


def test_label_id_255_is_void(tmp_path):
    from p8seg.labels import remap_mask
    ids = np.array([[255, 7, 26], [255, 23, 34]], np.uint8)
    cv2.imwrite(str(tmp_path / "ids.png"), ids)
    np.testing.assert_array_equal(remap_mask(read_label_ids(tmp_path / "ids.png")), [[0, 1, 7], [0, 5, 0]])


# --- through the cache and the pipeline -----------------------------------------------------

def test_size_mismatch_names_both_files(root, tmp_path):
    image, mask = _pair(root, i=1)
    cv2.imwrite(str(mask), np.zeros((16, 64), np.uint8))
    with pytest.raises(ValueError, match="size mismatch") as err:
        data.load_split(root, "train", (16, 32), cache_dir=tmp_path / "cache")
    assert image.name in str(err.value) and mask.name in str(err.value)
    assert not [p for p in (tmp_path / "cache").iterdir()]          # no half-written cache left behind


def test_bad_file_fails_make_dataset_before_training(root, tmp_path):
    image, _ = _pair(root, i=2)
    content = image.read_bytes(); image.write_bytes(content[: len(content) // 3])
    with pytest.raises(ValueError, match=image.name):
        data.make_dataset(root, "train", img_size=(16, 32), batch_size=2, cache_dir=tmp_path / "cache")


def test_label_255_through_the_pipeline_is_void(root, tmp_path):
    _, mask = _pair(root, i=0)
    cv2.imwrite(str(mask), np.full((32, 64), 255, np.uint8))
    ds = data.make_dataset(root, "train", img_size=(32, 64), batch_size=4, shuffle=False,
                           cache_dir=tmp_path / "cache", one_hot=False)
    _, y = next(iter(ds))
    assert (y.numpy()[0] == 0).all() and y.numpy().max() <= 7


def test_changed_file_rebuilds_cache(root, tmp_path):
    _, y = data.load_split(root, "train", (16, 32), cache_dir=tmp_path / "cache")
    _, mask = _pair(root, i=3)
    cv2.imwrite(str(mask), np.full((32, 64), 26, np.uint8))
    _, y2 = data.load_split(root, "train", (16, 32), cache_dir=tmp_path / "cache")
    assert (y2[3] == 7).all() and not (y[3] == 7).all()


def test_relative_root_path_works(tmp_path, monkeypatch):
    "A relative data root (as typed on a command line) is cached and loaded like an absolute one."
    from p8seg.synth import make_synthetic_cityscapes
    from p8seg.data import load_split
    monkeypatch.chdir(tmp_path)
    make_synthetic_cityscapes("rel", n_train=2, n_val=0, n_test=0, size=(64, 128))
    images, masks = load_split("rel", "train", (32, 64), cache_dir="cache")
    assert images.shape == (2, 32, 64, 3) and masks.shape == (2, 32, 64)
