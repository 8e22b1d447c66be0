"`p8seg.augment` called the way the input pipeline calls it: `tf.numpy_function` in a parallel `tf.data` map."
import numpy as np
import pytest

import p8seg  # before tensorflow: Keras 2
from p8seg.augment import augment_pair, make_augmentation
from p8seg.labels import VOID

tf = pytest.importorskip("tensorflow")


def _pairs(n=16, size=(32, 64)):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, *size, 3), dtype=np.uint8)
    masks = rng.choice(np.array([1, 4, 7], np.uint8), (n, *size))
    return images, masks


def _augment_tf(image, mask, seed):
    out_image, out_mask = tf.numpy_function(augment_pair, [image, mask, seed], [tf.uint8, tf.uint8])
    out_image.set_shape(image.shape); out_mask.set_shape(mask.shape)
    return out_image, out_mask


def _run(images, masks, parallel):
    seeds = np.arange(len(images), dtype=np.int64) * 7 + 3
    ds = tf.data.Dataset.from_tensor_slices((images, masks, seeds))
    ds = ds.map(_augment_tf, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True) if parallel else ds.map(_augment_tf)
    return [(i.numpy(), m.numpy()) for i, m in ds]


def test_parallel_tf_data_map_matches_plain_calls():
    images, masks = _pairs()
    expected = [augment_pair(i, m, int(s)) for i, m, s in zip(images, masks, np.arange(len(images)) * 7 + 3)]
    for parallel in (False, True, True):
        got = _run(images, masks, parallel)
        for (gi, gm), (ei, em) in zip(got, expected):
            np.testing.assert_array_equal(gi, ei)
            np.testing.assert_array_equal(gm, em)
    for (gi, gm), m in zip(got, masks):
        assert gi.dtype == np.uint8 and gm.dtype == np.uint8 and gm.shape == m.shape
        assert set(np.unique(gm)) <= set(np.unique(m)) | {VOID}


def test_bad_input_from_numpy_function_is_reported():
    images, masks = _pairs(1)
    with pytest.raises(ValueError, match="differ in size"):
        augment_pair(images[0], masks[0][:16], 0)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="differ in size"):
        tf.numpy_function(augment_pair, [images[0], masks[0][:16], np.int64(0)], [tf.uint8, tf.uint8])


def test_make_augmentation_seed_reproduces_a_sequence():
    images, masks = _pairs(4)
    a, b = make_augmentation(seed=5), make_augmentation(seed=5)
    for i, m in zip(images, masks):
        np.testing.assert_array_equal(a(image=i, mask=m)["image"], b(image=i, mask=m)["image"])
