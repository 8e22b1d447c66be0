"Loading saved p8seg models in a fresh process (what `p8seg evaluate`/`export` do after training)."
import os, textwrap

import numpy as np
import pytest

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
from conftest import run_python


def run_py(code, cwd):
    "Run `code` in a fresh process, in folder `cwd` (the saved model's)."
    return run_python(f"import os; os.chdir({str(cwd)!r})\n" + textwrap.dedent(code))


@pytest.fixture(scope="module")
def saved_efficientnet(tmp_path_factory):
    "An efficientnetb0 Unet (custom layers `swish`, `FixedDropout`) compiled with a p8seg loss, saved as .keras."
    import tensorflow as tf
    from p8seg.models import build_model
    from p8seg.losses import get_loss
    from p8seg.metrics import ArgmaxMeanIoU
    folder = tmp_path_factory.mktemp("saved")
    tf.keras.utils.set_random_seed(0)
    model = build_model("unet", "efficientnetb0", input_size=(32, 64, 3))
    model.compile(optimizer="adam", loss=get_loss("tversky", alpha=0.4, beta=0.6), metrics=[ArgmaxMeanIoU()])
    x = np.random.default_rng(0).random((2, 32, 64, 3), dtype=np.float32)
    np.save(folder / "x.npy", x)
    np.save(folder / "expected.npy", model.predict_on_batch(x))
    model.save(folder / "model.keras")
    return folder


def test_fresh_process_loads_efficientnet_model(saved_efficientnet):
    "Compiled, with p8seg.metrics.CUSTOM_OBJECTS after importing p8seg.models; and uncompiled with the explicit dicts."
    r = run_py("""
        import numpy as np, tensorflow as tf
        import p8seg.models  # registers the efficientnet custom objects (through segmentation_models)
        from p8seg.models import CUSTOM_OBJECTS
        from p8seg.metrics import CUSTOM_OBJECTS as METRIC_OBJECTS
        from p8seg.losses import CUSTOM_OBJECTS as LOSS_OBJECTS
        x, expected = np.load("x.npy"), np.load("expected.npy")
        m = tf.keras.models.load_model("model.keras", custom_objects=METRIC_OBJECTS)
        assert type(m.loss).__name__ == "TverskyLoss" and m.loss.get_config()["alpha"] == 0.4, m.loss.get_config()
        np.testing.assert_array_equal(m.predict_on_batch(x), expected)
        m = tf.keras.models.load_model("model.keras", custom_objects={**LOSS_OBJECTS, **CUSTOM_OBJECTS}, compile=False)
        np.testing.assert_array_equal(m.predict_on_batch(x), expected)
        assert m.layers[-1].name == "softmax" and m.layers[-1].dtype == "float32"
        print("ok")
        """, cwd=saved_efficientnet)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok"), r.stdout
