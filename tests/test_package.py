"Import-time guarantees of `p8seg/__init__.py`: environment for Keras 2, clear error when Keras 3 is loaded."
from conftest import run_python as run_py


def test_import_sets_keras2_environment():
    r = run_py("import os, p8seg; print(os.environ['SM_FRAMEWORK'], os.environ['TF_USE_LEGACY_KERAS'])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["tf.keras", "1"]


def test_tf_keras_is_keras2_after_import():
    r = run_py("import p8seg, tensorflow as tf; print(tf.keras.__name__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("tf_keras"), r.stdout


def test_keras3_already_loaded_is_a_clear_error():
    r = run_py("import keras; import p8seg")
    assert r.returncode != 0
    assert "Keras 2" in r.stderr and "already imported" in r.stderr, r.stderr[-2000:]
