"""The `p8seg` command line: --help of every command, one-line errors, fail-fast MLflow check."""
import os, subprocess, sys, time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["demo", "synth", "train", "compare", "evaluate", "predict", "export", "serve"]


from conftest import run_p8seg as p8seg, run_python


def test_help_lists_commands():
    r = p8seg("--help")
    assert r.returncode == 0
    for c in COMMANDS: assert c in r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command):
    r = p8seg(command, "--help")
    assert r.returncode == 0, r.stderr
    assert f"usage: p8seg {command}" in r.stdout
    if command in ("train", "compare"):
        for opt in ("--data", "--epochs", "--img-size", "--batch-size", "--arch", "--out", "--tracking-uri",
                    "--strategy", "--mixed-precision"):
            assert opt in r.stdout, opt
    if command == "compare":
        assert "--losses" in r.stdout and "--force" in r.stdout


def test_help_does_not_import_tensorflow():
    r = run_python("import sys; from p8seg.cli import make_parser; make_parser(); print('tensorflow' in sys.modules)")
    assert r.stdout.strip() == "False", r.stderr


def one_line_error(r, code):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr     # TensorFlow's C++ start-up messages are kept off stderr too
    assert "Traceback" not in r.stderr
    assert "error:" in lines[0]
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["compare", "--epochs", "0"], "--epochs"),
    (["compare", "--img-size", "64by128"], "--img-size"),
    (["train", "--batch-size", "x"], "--batch-size"),
    (["compare", "--strategy", "tpu"], "--strategy"),
    (["compare", "--no-such-option"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_one_line(args, expected):
    line = one_line_error(p8seg(*args), 2)
    assert expected in line


def test_bad_values_one_line(tmp_path, capsys):
    "Values the library refuses: one line `p8seg: error: ...`, exit 1 (in process: TensorFlow's start-up is tested below)."
    from p8seg.cli import main
    def error_line(*argv):
        assert main([str(a) for a in argv]) == 1
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("p8seg: error:"), lines
        return lines[0]
    # an unknown loss: tests/test_losses.py (get_loss), tests/test_compare.py (before training), nbs/01_config.ipynb
    line = error_line("compare", "--data", tmp_path / "missing", "--out", tmp_path / "o")
    assert "missing" in line and "does not exist" in line
    line = error_line("train", "--img-size", "62x100", "--out", tmp_path / "o")
    assert "img_size" in line
    assert not (tmp_path / "o" / "runs").exists()


def test_unreachable_tracking_uri_fails_fast(tmp_path):
    "In a fresh process, where TensorFlow starts: still one line on stderr, and before any training."
    from p8seg.synth import make_synthetic_cityscapes
    data = make_synthetic_cityscapes(tmp_path / "data", n_train=2, n_val=1, n_test=0, size=(32, 64))
    start = time.time()
    r = p8seg("compare", "--data", data, "--tracking-uri", "http://127.0.0.1:9", "--out", tmp_path / "o", "--epochs", "1")
    line = one_line_error(r, 1)
    assert "http://127.0.0.1:9" in line and "not reachable" in line
    assert time.time() - start < 60
    assert not (tmp_path / "o" / "runs").exists()


def test_synth_train_evaluate_predict_export(tmp_path):
    r = p8seg("synth", "--out", tmp_path / "s", "--n-train", 4, "--n-val", 2, "--n-test", 1, "--size", "64x128")
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip().splitlines()[-1]) == tmp_path / "s"
    assert len(list((tmp_path / "s" / "gtFine" / "train").rglob("*_gtFine_labelIds.png"))) == 4
    r = p8seg("train", "--data", tmp_path / "s", "--img-size", "32x64", "--epochs", 1, "--batch-size", 2,
              "--loss", "iou", "--unseen", "bremen", "--out", tmp_path / "o", "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "iou: finished, val mIoU" in r.stdout and "unseen streets (bremen, never trained on): mIoU" in r.stdout
    assert (tmp_path / "o" / "runs" / "iou" / "seed0" / "model.keras").exists() and (tmp_path / "o" / "mlflow.db").exists()
    assert f"mlflow ui --backend-store-uri sqlite:///{(tmp_path / 'o').resolve()}/mlflow.db" in r.stdout

    model = tmp_path / "o" / "runs" / "iou" / "seed0" / "model.keras"
    r = p8seg("evaluate", model, "--data", tmp_path / "s", "--out", tmp_path / "ev", "--worst", 1)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "official category rules" in r.stdout and "vehicle" in r.stdout
    assert "trained on cityscapes data" in r.stdout and "scored on cityscapes data" in r.stdout
    assert "on the unseen streets (bremen" in r.stdout                      # its run.json names them: scored beside val
    line = one_line_error(p8seg("train", "--data", tmp_path / "s", "--img-size", "32x64", "--epochs", 1, "--unseen", "paris",
                                "--out", tmp_path / "o2", "--quiet"), 1)
    assert "unknown group(s) paris" in line and "its groups are aachen, bochum, bremen" in line
    for f in ("scores.csv", "confusion.png", "worst.png"): assert (tmp_path / "ev" / f).exists(), f
    # a refused split, a missing photo, predicting from a .tflite: in process in tests/test_evaluate.py and
    # tests/test_inference.py (one fresh process per command costs TensorFlow's start-up)
    photo = sorted((tmp_path / "s" / "leftImg8bit" / "val").rglob("*.png"))[0]
    r = p8seg("predict", model, photo, "--out", tmp_path / "pred")
    assert r.returncode == 0, r.stderr[-2000:]
    stem = photo.name[: -len(".png")]
    for suffix in ("_category.png", "_color.png", "_overlay.png"):
        assert (tmp_path / "pred" / (stem + suffix)).exists(), suffix
    r = p8seg("export", model, "--format", "tflite", "--quantize", "float16", "--out", tmp_path / "m.tflite")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "m.tflite").stat().st_size > 10_000


NO_TENSORFLOW = """
import sys
class NoTensorFlow:   # importing TensorFlow fails: the command must answer before it would load
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras"): raise ImportError(f"{name} imported")
sys.meta_path.insert(0, NoTensorFlow)
from p8seg.cli import main
sys.exit(main())
"""


@pytest.mark.parametrize("command", ["train", "compare"])
def test_busy_output_folder_is_refused_before_tensorflow_loads(tmp_path, command):
    "A live holder of the folder's lock: a second command is refused on one line, at once, without TensorFlow."
    import subprocess
    from conftest import python_command, subprocess_env
    out = tmp_path / "busy"
    holder = subprocess.Popen(python_command(
        f"import sys, time\nfrom p8seg.files import folder_lock\nwith folder_lock({str(out)!r}):\n"
        "    print('held', flush=True); time.sleep(120)"), stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = [sys.executable, "-c", NO_TENSORFLOW, command, "--out", str(out), "--epochs", "1"]
        start = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=subprocess_env())
        took = time.monotonic() - start
    finally:
        holder.kill(); holder.wait()
    line = one_line_error(r, 1)
    assert line.startswith(f"p8seg: error: {out.resolve()} is in use by process {holder.pid} on "), line
    assert line.endswith("wait for it to finish, stop it, or use another --out"), line
    assert took < 3, f"refused after {took:.1f} s"


# --- bad input to predict / export: one line, exit 1 (in process, on the tiny models of conftest) -------------------

def _cli(capsys, *argv):
    "Run `p8seg ...` in process; return (exit status, stderr lines)."
    from p8seg.cli import main
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err.strip().splitlines()


def test_cli_bad_model_is_one_line(models, photos, tmp_path, capsys):
    bad = tmp_path / "cut.keras"; bad.write_bytes((models / "good.keras").read_bytes()[:100])
    status, err = _cli(capsys, "predict", bad, photos / "good0.png", "--out", tmp_path / "out")
    assert status == 1 and len(err) == 1 and err[0].startswith(f"p8seg: error: {bad} is not a valid/complete .keras")


def test_cli_wrong_class_count_is_one_line(models, photos, tmp_path, capsys):
    status, err = _cli(capsys, "predict", models / "five.keras", photos, "--out", tmp_path / "out")
    assert status == 1 and len(err) == 1 and err[0].startswith(f"p8seg: error: {models / 'five.keras'}: the model's output")


def test_cli_export_tflite_is_one_line(models, capsys):
    status, err = _cli(capsys, "export", models / "good.tflite")
    assert status == 1 and len(err) == 1 and err[0].startswith(f"p8seg: error: {models / 'good.tflite'} is a .tflite file")


def test_cli_empty_folder_is_one_line(models, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status, err = _cli(capsys, "predict", models / "good.keras", tmp_path / "empty", "--out", tmp_path / "out")
    assert status == 1 and len(err) == 1 and err[0].startswith("p8seg: error: no image files")
