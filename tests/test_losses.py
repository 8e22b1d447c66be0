"""Checks of p8seg.losses beyond the notebook: bad input, dtypes (one mirrored step per loss: tests/test_distribute.py)."""
import os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
import p8seg  # before TensorFlow
import tensorflow as tf
from p8seg.losses import LOSSES, get_loss, loss_params, dice_loss, CUSTOM_OBJECTS

ROOT = Path(__file__).resolve().parents[1]

def _batch(shape=(2, 8, 8), n=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.eye(n, dtype=np.float32)[rng.integers(0, n, shape)]
    return tf.constant(y), tf.nn.softmax(rng.normal(size=(*shape, n)).astype(np.float32))

def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'jaccard'; valid names: dice, total, iou, tversky, focal_tversky"):
        get_loss("jaccard")

def test_unknown_parameter_names_loss():
    with pytest.raises(TypeError, match="'dice'.*alpha"):
        get_loss("dice", alpha=0.3)

def test_class_weights_wrong_length():
    y, p = _batch()
    with pytest.raises(ValueError, match="3 entries but the masks have 8 classes"):
        get_loss("dice", class_weights=[1, 1, 1])(y, p)

def test_float16_predictions_are_summed_in_float32():
    y, p = _batch(shape=(4, 64, 64))
    for name in LOSSES:
        loss = get_loss(name)
        v16, v32 = loss(y, tf.cast(p, tf.float16)), loss(y, p)
        assert v16.dtype == tf.float32
        assert abs(float(v16) - float(v32)) < 1e-3, name

def test_loss_value_independent_of_batch_split_for_cce_only():
    "Region losses pool counts over the batch: halves do not average to the whole (CCE does)."
    y, p = _batch(shape=(4, 8, 8))
    whole, halves = dice_loss(y, p), (dice_loss(y[:2], p[:2]) + dice_loss(y[2:], p[2:])) / 2
    assert abs(float(whole) - float(halves)) > 1e-6

def test_loss_params_are_flat_scalars():
    for name in LOSSES:
        params = loss_params(name)
        assert params["loss"] == name
        assert all(isinstance(v, (str, float)) for v in params.values())
    assert set(CUSTOM_OBJECTS) == {type(get_loss(n)).__name__ for n in LOSSES}
