"""End-to-end loss comparison on a tiny synthetic set: MLflow runs, distinct losses, outputs, resume, NaN runs."""
import json, math, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pandas as pd

from p8seg.synth import make_synthetic_cityscapes
from p8seg.config import TrainConfig, P8segError
from p8seg.compare import compare_losses, DEFAULT_LOSSES, OUTPUT_FILES

REPO = Path(__file__).resolve().parents[1]
SIZE = (64, 128)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_synthetic_cityscapes(tmp_path_factory.mktemp("data"), n_train=8, n_val=4, n_test=1, size=SIZE, seed=1)


def tiny_config(data, out, **kw):
    return TrainConfig(data=str(data), img_size=SIZE, batch_size=4, epochs=2, learning_rate=1e-3, out=str(out),
                       verbose=0, **kw)


def child_runs(out, experiment="p8seg"):
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{Path(out).resolve() / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=[experiment], filter_string="tags.`p8seg.kind` = 'training'")


@pytest.fixture(scope="module")
def comparison(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    config = tiny_config(data, out)
    table = compare_losses(config)
    return config, out, table


def test_five_runs_each_with_its_own_loss(comparison):
    config, out, table = comparison
    runs = child_runs(out)
    assert sorted(runs["params.loss"]) == sorted(DEFAULT_LOSSES)
    assert set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["tags.mlflow.runName"]) == sorted(DEFAULT_LOSSES)
    # every child is nested under the one comparison run
    assert runs["tags.mlflow.parentRunId"].nunique() == 1
    # same start: every run loaded the same initial weights (digest of the weights before training)
    assert runs["params.initial_weights_digest"].nunique() == 1
    assert set(runs["params.initial_weights"]) == {str(out / "initial.weights.h5")}
    # loss hyper-parameters are logged with the loss
    tv = runs[runs["params.loss"] == "tversky"].iloc[0]
    assert float(tv["params.loss_alpha"]) == 0.3 and float(tv["params.loss_beta"]) == 0.7
    assert "params.loss_gamma" in runs and float(runs[runs["params.loss"] == "focal_tversky"].iloc[0]["params.loss_gamma"]) == 1.5


def test_histories_differ_between_losses(comparison):
    config, out, table = comparison
    hist = {l: json.loads((out / "runs" / l / "result.json").read_text())["history"] for l in DEFAULT_LOSSES}
    train_losses = {l: tuple(np.round(h["loss"], 6)) for l, h in hist.items()}
    assert len(set(train_losses.values())) == 5, train_losses
    # the loss values are those of each loss: total (CE + 3 Dice) is far above the region losses (<= 1)
    assert hist["total"]["loss"][0] > 1.0 and all(hist[l]["loss"][0] <= 1.0 for l in ("dice", "iou", "tversky", "focal_tversky"))
    # same start and same data: the models differ only by their loss, and so do their argmax scores
    assert table["miou"].nunique() >= 2


def test_outputs_exist_and_agree_with_mlflow(comparison):
    config, out, table = comparison
    for name in OUTPUT_FILES.values():
        assert (out / name).stat().st_size > 0, name
    csv = pd.read_csv(out / "results.csv")
    assert sorted(csv["loss"]) == sorted(DEFAULT_LOSSES)
    assert set(csv["status"]) == {"finished"}
    runs = child_runs(out).set_index("run_id")
    for _, row in csv.iterrows():
        run = runs.loc[row["run_id"]]
        assert run["params.loss"] == row["loss"]
        assert math.isclose(run["metrics.eval_miou"], row["miou"], rel_tol=1e-6)
        assert math.isclose(run["metrics.eval_miou_7"], row["miou_7"], rel_tol=1e-6)
        assert math.isclose(run["metrics.val_miou"], json.loads((out / "runs" / row["loss"] / "result.json").read_text())
                            ["history"]["val_miou"][-1], rel_tol=1e-6)
        # the checkpoint is the best epoch on val mIoU, and the argmax evaluation of it gives that val mIoU
        hist = json.loads((out / "runs" / row["loss"] / "result.json").read_text())["history"]
        assert row["best_epoch"] == int(np.argmax(hist["val_miou"])) + 1
        assert math.isclose(row["miou"], max(hist["val_miou"]), abs_tol=1e-4)
        assert (out / "runs" / row["loss"] / "best.keras").exists()
        assert (out / "runs" / row["loss"] / "history.csv").exists()
    # per-category IoU columns and the markdown table
    assert all(f"iou_{c}" in csv for c in ("void", "flat", "construction", "object", "nature", "sky", "human", "vehicle"))
    md = (out / "results.md").read_text()
    assert all(f"| {l} |" in md for l in DEFAULT_LOSSES) and "Majority-class baseline" in md
    # artifacts: figures on the parent run, the model on each child
    import mlflow
    parent_id = runs["tags.mlflow.parentRunId"].iloc[0]
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(parent_id)}
    assert set(OUTPUT_FILES.values()) <= names
    assert any(a.path == "model/best.keras" for a in mlflow.MlflowClient().list_artifacts(runs.index[0], "model"))
    assert Path(mlflow.get_experiment(runs["experiment_id"].iloc[0]).artifact_location.replace("file://", "")) == (out / "mlartifacts").resolve()


def test_resume_trains_only_what_is_missing_and_reruns_are_identical(comparison, capsys):
    config, out, table = comparison
    before = {l: (out / "runs" / l / "result.json").stat().st_mtime_ns for l in DEFAULT_LOSSES}
    (out / "runs" / "iou" / "result.json").unlink()
    capsys.readouterr()
    again = compare_losses(config)
    printed = capsys.readouterr().out
    assert "training with the iou loss" in printed
    assert sum("already finished, skipped" in line for line in printed.splitlines()) == 4
    after = {l: (out / "runs" / l / "result.json").stat().st_mtime_ns for l in DEFAULT_LOSSES}
    assert [l for l in DEFAULT_LOSSES if after[l] != before[l]] == ["iou"]
    # seeded and deterministic: retraining iou gave the same numbers
    merged = again.set_index("loss")
    first = table.set_index("loss")
    assert np.allclose(merged.loc[list(DEFAULT_LOSSES), "miou"], first.loc[list(DEFAULT_LOSSES), "miou"])
    assert len(child_runs(out)) == 6          # one new child run: iou
    # --force retrains everything asked for
    forced = compare_losses(config, losses=["dice"], force=True)
    assert "training with the dice loss" in capsys.readouterr().out
    assert math.isclose(forced["miou"].iloc[0], first.loc["dice", "miou"], rel_tol=1e-6)


def test_nan_run_is_failed_and_the_others_finish(data, tmp_path):
    config = tiny_config(data, tmp_path)
    table = compare_losses(config, losses=("dice", "tversky"), overrides={"dice": {"learning_rate": 1e10}})
    status = dict(zip(table["loss"], table["status"]))
    assert status == {"dice": "failed", "tversky": "finished"}
    assert math.isnan(table.set_index("loss").loc["dice", "miou"])
    runs = child_runs(tmp_path).set_index("params.loss")
    assert runs.loc["dice", "status"] == "FAILED" and runs.loc["dice", "tags.p8seg.status"] == "failed"
    assert runs.loc["tversky", "status"] == "FINISHED"
    csv = pd.read_csv(tmp_path / "results.csv").set_index("loss")
    assert csv.loc["dice", "status"] == "failed" and csv.loc["tversky", "status"] == "finished"
    assert (tmp_path / "sample_predictions.png").exists()


def test_bad_input_fails_before_training(data, tmp_path):
    config = tiny_config(data, tmp_path)
    with pytest.raises(P8segError, match="unknown loss.*bce"):
        compare_losses(config, losses=("dice", "bce"))
    with pytest.raises(P8segError, match="not reachable"):
        compare_losses(config.replace(tracking_uri="http://127.0.0.1:9"))
    with pytest.raises(P8segError, match="does not exist"):
        compare_losses(config.replace(data=str(tmp_path / "nowhere")))
    assert not (tmp_path / "runs").exists()


def test_killed_comparison_keeps_finished_losses(data, tmp_path):
    "SIGKILL after the first loss finished: a rerun skips it and trains only the rest."
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "import sys; from p8seg.cli import main; sys.exit(main())", "compare",
           "--data", str(data), "--img-size", "64x128", "--epochs", "2", "--batch-size", "4", "--lr", "1e-3",
           "--losses", "dice,iou,tversky", "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    try:   # killed while the iou loss trains (its MLflow run started: CSVLogger opened its history)
        while not (out / "runs" / "iou" / "history.csv").exists():
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read().decode()[-2000:]
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL); proc.wait()
    assert (out / "runs" / "dice" / "result.json").exists()
    assert not (out / "runs" / "tversky" / "result.json").exists()
    before = all_runs(out)
    stale = set(before[before["status"] == "RUNNING"]["run_id"])
    kinds = sorted(before.set_index("run_id").loc[list(stale), "tags.p8seg.kind"])
    if not (out / "runs" / "iou" / "result.json").exists(): assert kinds == ["comparison", "training"], before
    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "dice: already finished, skipped" in rerun.stdout
    assert "training with the iou loss" in rerun.stdout and "training with the tversky loss" in rerun.stdout
    assert sorted(pd.read_csv(out / "results.csv")["loss"]) == ["dice", "iou", "tversky"]
    assert "mlflow ui --backend-store-uri sqlite:///" in rerun.stdout
    # the runs the killed process left RUNNING are marked KILLED, with a note; nothing is RUNNING any more
    assert f"{len(stale)} MLflow run(s) of an interrupted comparison were still RUNNING: marked KILLED" in rerun.stdout
    after = all_runs(out).set_index("run_id")
    assert set(after.loc[list(stale), "status"]) == {"KILLED"}
    assert all("restarted" in note for note in after.loc[list(stale), "tags.p8seg.note"])
    assert "RUNNING" not in set(after["status"])
    assert after["tags.p8seg.comparison"].dropna().nunique() == 1     # both parent runs: the same comparison


def all_runs(out, experiment="p8seg"):
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{Path(out).resolve() / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=[experiment])


def test_train_mirrored_on_two_logical_cpus(data, tmp_path):
    "strategy='mirrored': model, optimizer, loss and metric built in the strategy's scope; 2 replicas logged."
    code = ("from p8seg.distribute import split_cpu; split_cpu(2)\n"
            "from p8seg.train import TrainConfig, train\n"
            f"r = train(TrainConfig(data={str(data)!r}, img_size=(32, 64), batch_size=4, epochs=1, loss='dice', "
            f"out={str(tmp_path)!r}, verbose=0, strategy='mirrored'))\n"
            "import mlflow; p = mlflow.get_run(r.run_id).data.params\n"
            "print('RESULT', r.status, p['strategy'], p['num_replicas'])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "RESULT finished mirrored 2" in r.stdout
