"End-to-end checks of `p8seg.export` (what `p8seg export` calls), the `.tflite` path through evaluate/predict, bad input."
import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
import subprocess, sys
from pathlib import Path

import numpy as np
import pytest

from conftest import one_line
from p8seg.config import P8segError
from p8seg.sources import load_file_paths

from p8seg.data import read_image
from p8seg.evaluate import evaluate
from p8seg.inference import load_model, predict, run_predict, TFLiteModel
from p8seg.export import run_export, export_model

ROOT = Path(__file__).resolve().parents[1]


def test_run_export_every_variant(tiny_setup, tmp_path, capsys):
    _, root, shared_model = tiny_setup
    tmp = tmp_path
    model_path = tmp / "tiny.keras"; model_path.write_bytes(shared_model.read_bytes())   # exports go next to the model
    saved = run_export(model_path, "savedmodel")
    assert saved == tmp / "tiny_savedmodel" and (saved / "saved_model.pb").exists()
    paths = {q: run_export(model_path, "tflite", q, data=root, n_calib=2) for q in ("none", "float16", "int8")}
    assert [p.name for p in paths.values()] == ["tiny.tflite", "tiny_float16.tflite", "tiny_int8.tflite"]
    assert "MB" in capsys.readouterr().out
    keras = load_model(model_path)
    images = [read_image(p) for p in load_file_paths(root, "val")[0]]
    ref = keras.predict_on_batch(np.stack([np.zeros((32, 64, 3), np.float32), np.ones((32, 64, 3), np.float32)]))
    np.testing.assert_allclose(load_model(saved).predict_on_batch(
        np.stack([np.zeros((32, 64, 3), np.float32), np.ones((32, 64, 3), np.float32)])), ref, atol=1e-5)
    lite = load_model(paths["none"])                      # a .tflite file loads as a TFLiteModel
    assert isinstance(lite, TFLiteModel)
    np.testing.assert_allclose(lite.predict_on_batch(np.stack([np.zeros((32, 64, 3), np.float32),
                                                               np.ones((32, 64, 3), np.float32)])), ref, atol=1e-4)
    assert [m.shape for m in predict(TFLiteModel(paths["int8"]), images, batch_size=1)] == [(64, 128)] * len(images)
    assert evaluate(lite, root, "val").confusion.sum() == evaluate(keras, root, "val").confusion.sum()
    written = run_predict(paths["float16"], images and load_file_paths(root, "val")[0][:1], tmp / "pred")
    assert len(written) == 3


def test_bad_export_requests(tiny_setup, tmp_path):
    _, root, model_path = tiny_setup
    with pytest.raises(ValueError, match="format must be"):
        run_export(model_path, "onnx")
    with pytest.raises(ValueError, match="quantize must be"):
        run_export(model_path, "tflite", "int4")
    with pytest.raises(ValueError, match="format='tflite'"):
        run_export(model_path, "savedmodel", "float16")
    with pytest.raises(FileNotFoundError, match="absent.keras"):
        run_export(tmp_path / "absent.keras", "tflite")
    with pytest.raises(ValueError, match="calibration"):
        export_model(load_model(model_path), tmp_path / "m.tflite", "tflite", "int8", calib_images=[])
    # a corrupt .tflite file is refused when loaded: tests/test_inference.py (test_corrupt_tflite_file_names_it)


def test_bench_export_runs(tiny_setup):
    "The benchmark script runs end to end on a tiny model (numbers are not checked here)."
    _, _, model_path = tiny_setup
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_export.py"), "--model", str(model_path),
                        "--runs", "3", "--warmup", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ["keras tf.function", "tflite float32", "tflite float16", "tflite int8", "goal"]:
        assert name in r.stdout, r.stdout


def _real_frames(root, n=6):
    "A few real CamVid training photos (uint8 RGB)."
    return [read_image(p) for p in load_file_paths(root, "train")[0][::60][:n]]


@pytest.fixture(scope="module")
def bn_model(camvid_root):
    "A small unet_mini whose BatchNorms hold statistics of real frames and scales of both signs (and one zero)."
    import tensorflow as tf
    from p8seg.models import unet_mini, bn_layers, reestimate_bn_stats
    tf.keras.utils.set_random_seed(1)
    model = unet_mini(input_size=(96, 128, 3))
    rng = np.random.default_rng(1)
    for bn in bn_layers(model):
        n = bn.gamma.shape[0]
        gamma = np.exp(rng.normal(0, 1, n)); gamma[:2] *= -1; gamma[2] = 0
        bn.gamma.assign(gamma.astype(np.float32)); bn.beta.assign(rng.normal(0, 0.5, n).astype(np.float32))
    from p8seg.inference import prepare_image
    frames = _real_frames(camvid_root, 12)
    reestimate_bn_stats(model, np.stack([prepare_image(f, (96, 128)) for f in frames]), batch_size=4)
    return model, frames


def test_rewrite_exact_on_real_frames(bn_model):
    "The int8-faithful rewrite, exported in float, predicts what the Keras model predicts (≤ 1e-4) on real photographs."
    from p8seg.export import fold_bn_scales, tflite_bytes, ChannelAffine
    from p8seg.inference import prepare_image
    model, frames = bn_model
    folded = fold_bn_scales(model)
    assert sum(isinstance(l, ChannelAffine) for l in folded.layers) == 10
    x = np.stack([prepare_image(f, (96, 128)) for f in frames[:4]])
    lite = TFLiteModel(tflite_bytes(folded, "none"))
    assert np.abs(lite.predict_on_batch(x) - model.predict_on_batch(x)).max() <= 1e-4
    assert np.abs(folded.predict_on_batch(x) - model.predict_on_batch(x)).max() <= 1e-4


def test_camera_input_equals_float_input(bn_model):
    "The camera-input export takes the uint8 frame and gives what the float-input export gives on frame / 255."
    from p8seg.export import tflite_bytes
    from p8seg.inference import prepare_image
    model, frames = bn_model
    camera, plain = TFLiteModel(tflite_bytes(model, "none", camera_input=True)), TFLiteModel(tflite_bytes(model, "none"))
    assert camera.camera_input and not plain.camera_input
    assert camera.interpreter.get_input_details()[0]["dtype"] == np.uint8
    from p8seg.data import resize_image
    frame = resize_image(frames[0], (96, 128))
    camera.interpreter.set_tensor(camera._input["index"], frame[None]); camera.interpreter.invoke()
    raw = camera.interpreter.get_tensor(camera._output["index"])
    np.testing.assert_allclose(raw, plain.predict_on_batch(frame[None].astype(np.float32) / 255), atol=1e-4)
    x = np.stack([prepare_image(f, (96, 128)) for f in frames[:2]])
    np.testing.assert_allclose(camera.predict_on_batch(x), plain.predict_on_batch(x), atol=1e-4)   # the wrapper feeds it uint8


def test_gate_refuses_outside_tolerance(tiny_setup, tmp_path, capsys, monkeypatch):
    "The release gate prints both models' IoU per category and refuses an export whose gap exceeds the tolerance."
    import p8seg.export as export
    from p8seg.config import P8segError
    _, root, model_path = tiny_setup
    model = load_model(model_path)
    path = tmp_path / "float.tflite"; path.write_bytes(export.tflite_bytes(model, "none"))
    parity = export.check_parity(model, path, "none", root)
    assert parity.loc["tflite-none", "gap"] <= export.PARITY_TOLERANCE["none"]
    out = capsys.readouterr().out
    assert "IoU per category" in out and "flat" in out and "change" in out and "tflite-none" in out
    monkeypatch.setitem(export.PARITY_TOLERANCE, "none", -1.0)          # no export can be that close: refused
    with pytest.raises(P8segError, match="float.tflite fails the check"):
        export.check_parity(model, path, "none", root)


def test_release_gate_on_the_committed_camvid_model(camvid_root, tmp_path):
    """`p8seg export --quantize int8 --check` passes the committed car's model, faithful and plain: its BatchNorm layers
    follow their convolutions (EfficientNet-Lite, FPN-lite), which the plain conversion folds as well. The refusal is
    `test_gate_refuses_outside_tolerance`; the rewrite's effect on unet_mini, whose BatchNorm follows a ReLU, is
    `test_rewrite_exact_on_real_frames` and the export notebook."""
    from conftest import run_p8seg
    model = ROOT / "results" / "camvid_best" / "model.keras"
    common = ["export", model, "--format", "tflite", "--quantize", "int8", "--data", camvid_root, "--check", "--limit", "20"]
    for extra, name in (((), "faithful.tflite"), (("--no-rewrite",), "plain.tflite")):
        r = run_p8seg(*common, *extra, "--out", tmp_path / name, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "IoU per category" in r.stdout and "tflite-int8" in r.stdout


def test_tflite_given_to_export(models, tmp_path):
    with pytest.raises(P8segError, match=f"{models / 'good.tflite'} is a .tflite file, which cannot be exported again: "
                                         "export the Keras model it came from") as err:
        run_export(models / "good.tflite", "tflite", out=tmp_path / "x.tflite")
    one_line(err)
    assert not (tmp_path / "x.tflite").exists()


def test_unwritable_output_folder_export(models, tmp_path):
    blocker = tmp_path / "a_file"; blocker.write_text("")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker}"):
        run_export(models / "good.keras", "tflite", out=blocker / "model.tflite")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker / 'saved'}"):
        run_export(models / "good.keras", "savedmodel", out=blocker / "saved")


def test_float_softmax_export(tiny_setup, tmp_path):
    """`run_export(..., float_softmax=True)` (`p8seg export --float-softmax`): an int8 file whose softmax takes float32,
    whose predictions are the all-int8 file's within one int8 step; refused, in one line and before any data is read,
    for a float16 file, a SavedModel or the camera's uint8 input."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    _, root, model_path = tiny_setup
    files = {f: run_export(model_path, "tflite", "int8", tmp_path / f"m{int(f)}.tflite", data=root, n_calib=2, float_softmax=f)
             for f in (False, True)}
    softmax_in = {}
    for f, path in files.items():
        it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        op = next(o for o in it._get_ops_details() if o["op_name"] == "SOFTMAX")
        softmax_in[f] = it._get_tensor_details(op["inputs"][0], 0)["dtype"]
    assert softmax_in == {False: np.int8, True: np.float32}, softmax_in
    x = np.random.default_rng(0).random((2, 32, 64, 3), dtype=np.float32)
    p = {f: TFLiteModel(path).predict_on_batch(x) for f, path in files.items()}
    assert np.abs(p[True] - p[False]).max() <= 1.5 / 256
    for kw in (dict(format="tflite", quantize="float16"), dict(format="savedmodel"),
               dict(format="tflite", quantize="int8", camera_input=True)):
        with pytest.raises(ValueError) as err:
            run_export(model_path, **kw, data=tmp_path / "absent", float_softmax=True)
        assert "float_softmax keeps the softmax of an int8 file in float32" in one_line(err)
