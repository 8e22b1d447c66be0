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
