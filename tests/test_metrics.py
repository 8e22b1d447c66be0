"""Checks of p8seg.metrics beyond the notebook: fit logs, bad input (under a mirrored strategy: tests/test_distribute.py)."""
import os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
import p8seg  # before TensorFlow
import tensorflow as tf
from p8seg.metrics import ArgmaxMeanIoU, confusion_matrix, scores_from_confusion, dice_coeff
from p8seg.losses import get_loss

ROOT = Path(__file__).resolve().parents[1]

def _tiny_model():
    inp = tf.keras.Input((8, 16, 3))
    return tf.keras.Model(inp, tf.keras.layers.Conv2D(8, 1, activation="softmax")(inp))

def test_bad_masks_name_the_problem():
    with pytest.raises(ValueError, match=r"y_true has values \[26, 33\] outside 0..7"):
        confusion_matrix(np.array([0, 26, 33]), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="argmax"):
        confusion_matrix(np.zeros((2, 2, 8), np.float32), np.zeros((2, 2, 8), np.float32))

def test_dice_is_2iou_over_1_plus_iou_on_random_matrices():
    rng = np.random.default_rng(0)
    for _ in range(5):
        cm = rng.integers(0, 50, (8, 8)); cm[3] = 0; cm[:, 3] = 0   # class 3 absent
        s = scores_from_confusion(cm)
        assert np.isnan(s["iou"][3]) and np.isnan(s["dice"][3])
        ok = ~np.isnan(s["iou"])
        np.testing.assert_allclose(s["dice"][ok], 2 * s["iou"][ok] / (1 + s["iou"][ok]))
        np.testing.assert_allclose(s["miou"], np.mean(s["iou"][ok]))

def test_fit_logs_train_and_val_miou():
    rng = np.random.default_rng(0)
    x = rng.random((6, 8, 16, 3), dtype=np.float32)
    y = np.eye(8, dtype=np.float32)[rng.integers(0, 8, (6, 8, 16))]
    model = _tiny_model()
    model.compile("adam", loss=get_loss("total"), metrics=[ArgmaxMeanIoU(), dice_coeff])
    hist = model.fit(x, y, validation_data=(x, y), batch_size=2, epochs=1, verbose=0).history
    assert {"loss", "miou", "dice_coeff", "val_loss", "val_miou", "val_dice_coeff"} <= set(hist)
    assert 0 <= hist["val_miou"][0] <= 1
    pred = model.predict(x, verbose=0).argmax(-1)
    np.testing.assert_allclose(hist["val_miou"][0], scores_from_confusion(confusion_matrix(y.argmax(-1), pred))["miou"], atol=1e-6)
