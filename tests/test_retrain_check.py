"benchmarks/retrain_check.py: a committed run retrained from its own run.json, set beside its figures."
import json, shutil, subprocess, sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def check(folder, data, *args):
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "retrain_check.py"), str(folder), "--data", str(data),
                           *args], capture_output=True, text=True, cwd=REPO, timeout=600)


def test_a_run_of_the_comparison_retrains_to_its_first_epoch(comparison, synthetic_data, tmp_path):
    "A run of the shared synthetic comparison, retrained for one epoch, equals its history.csv to the last digit; a "
    "changed history is reported as different; the report names no machine path; a second call skips what is done."
    _, out, _ = comparison
    folder = tmp_path / "cmp"
    shutil.copytree(out / "runs" / "dice" / "seed0", folder / "runs" / "dice" / "seed0")
    r = check(folder, synthetic_data, "--epochs", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    saved = json.loads((folder / "retrain_check.json").read_text())
    assert saved["checks"]["1"]["dice/seed0"]["equal"] is True
    report = (folder / "retrain_check.md").read_text()
    assert "1 of 1 equal to the last digit" in report and "python benchmarks/retrain_check.py cmp --epochs 1" in report
    assert str(tmp_path) not in report
    assert check(folder, synthetic_data, "--epochs", "1").stdout.count("retrain_check: dice/seed0") == 0   # done: skipped
    history = folder / "runs" / "dice" / "seed0" / "history.csv"
    lines = history.read_text().splitlines()
    head, row = lines[0].split(","), lines[1].split(",")
    row[head.index("loss")] = repr(float(row[head.index("loss")]) + 1e-7)             # the record no longer matches
    history.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    (folder / "retrain_check.json").unlink()
    r = check(folder, synthetic_data, "--epochs", "1")
    assert r.returncode == 0 and "DIFFERS" in r.stdout
    assert "0 of 1 equal" in (folder / "retrain_check.md").read_text()


def test_no_run_is_one_line(tmp_path):
    r = check(tmp_path, tmp_path)
    assert r.returncode != 0 and "no finished run" in r.stderr


def test_a_cosine_run_keeps_its_schedule(synthetic_data, tmp_path):
    "A 3-epoch run under cosine decay, checked on its first epoch: retrained with its own schedule (stopped after one "
    "epoch, not shortened to one, which would decay the rate to 0 within it) it equals its first epoch exactly."
    from p8seg.compare import compare_losses
    from conftest import tiny_config
    folder = tmp_path / "cosine"
    compare_losses(tiny_config(synthetic_data, folder, epochs=3, lr_schedule="cosine"), losses=["dice"], n_resamples=50)
    r = check(folder, synthetic_data, "--epochs", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((folder / "retrain_check.json").read_text())["checks"]["1"]["dice/seed0"]["equal"] is True
