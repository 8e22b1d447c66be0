"""End-to-end loss comparison on a tiny synthetic set: MLflow runs, distinct losses, seeds, intervals, outputs,
resume per (loss, seed), NaN runs, a killed comparison, one process per folder, and compare == evaluate.
(Training under a strategy: tests/test_distribute.py.)"""
import json, math, signal, subprocess, time
from pathlib import Path

import pytest

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pandas as pd

from conftest import REPO, python_command, subprocess_env, tiny_config
from p8seg.synth import make_synthetic_cityscapes
from p8seg.config import P8segError, LOSS_NAMES
from p8seg.compare import compare_losses, OUTPUT_FILES, initial_digest
from p8seg.resume import run_dir_of

SIZE = (64, 128)


@pytest.fixture
def data(synthetic_data):
    return synthetic_data


def runs_of(out, experiment="p8seg", kind=None):
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{Path(out).resolve() / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=[experiment],
                              filter_string=f"tags.`p8seg.kind` = '{kind}'" if kind else "")


def record(config, loss, seed=0):
    return json.loads((run_dir_of(config.replace(loss=loss, seed=seed)) / "result.json").read_text())


def test_five_runs_each_with_its_own_loss(comparison):
    config, out, table = comparison
    runs = runs_of(out, kind="training")
    assert sorted(runs["params.loss"]) == sorted(LOSS_NAMES)
    assert set(runs["status"]) == {"FINISHED"}
    assert runs["tags.mlflow.parentRunId"].nunique() == 1            # nested under the one comparison run
    assert runs["params.initial_weights_digest"].nunique() == 1      # same start
    assert set(runs["params.initial_weights"]) == {str(out / "initial" / "seed0.weights.h5")}
    tv = runs[runs["params.loss"] == "tversky"].iloc[0]
    assert float(tv["params.loss_alpha"]) == 0.3 and float(tv["params.loss_beta"]) == 0.7
    assert float(runs[runs["params.loss"] == "focal_tversky"].iloc[0]["params.loss_gamma"]) == 1.5


def test_histories_differ_between_losses(comparison):
    config, out, table = comparison
    hist = {l: record(config, l)["history"] for l in LOSS_NAMES}
    assert len({tuple(np.round(h["loss"], 6)) for h in hist.values()}) == 5
    # the logged losses are each loss's own: total (CE + 3 Dice) is far above the region losses (<= 1)
    assert hist["total"]["loss"][0] > 1.0 and all(hist[l]["loss"][0] <= 1.0 for l in ("dice", "iou", "tversky", "focal_tversky"))
    assert table["miou"].nunique() >= 2


def test_outputs_exist_and_agree_with_mlflow(comparison):
    config, out, table = comparison
    for name in OUTPUT_FILES.values(): assert (out / name).stat().st_size > 0, name
    csv = pd.read_csv(out / "results.csv")
    assert sorted(csv["loss"]) == sorted(LOSS_NAMES) and set(csv["status"]) == {"finished"}
    for c in ("miou", "ci_low", "ci_high", "diff", "diff_low", "diff_high", "tied_with_best", "miou_8", "iou_human"):
        assert c in csv, c
    assert (csv["ci_low"] <= csv["miou"]).all() and (csv["miou"] <= csv["ci_high"]).all()
    runs = runs_of(out, kind="training").set_index("run_id")
    per_run = pd.read_csv(out / "runs.csv")
    for _, row in per_run.iterrows():
        run = runs.loc[row["run_id"]]
        assert run["params.loss"] == row["loss"]
        assert math.isclose(run["metrics.eval_miou"], row["miou"], rel_tol=1e-6)
        hist = record(config, row["loss"])["history"]
        assert row["epoch"] == 2 and row["epoch_rule"] == "last"          # no peeking: the last epoch is reported
        assert math.isclose(row["miou"], hist["val_miou"][-1], abs_tol=1e-6)
        assert (run_dir_of(config.replace(loss=row["loss"])) / "model.keras").exists()
        assert (run_dir_of(config.replace(loss=row["loss"])) / "per_image.npy").exists()
    md = (out / "results.md").read_text()
    assert all(f"| {l} |" in md for l in LOSS_NAMES) and "Majority-class baseline" in md
    assert "**Conclusion (generated from the numbers above).**" in md and "epoch_rule=last" in md
    import mlflow
    parent_id = runs["tags.mlflow.parentRunId"].iloc[0]
    assert set(OUTPUT_FILES.values()) <= {a.path for a in mlflow.MlflowClient().list_artifacts(parent_id)}
    from p8seg.inference import mlflow_model_file
    from p8seg.tracking import tracking_uri_of
    for _, row in per_run.iterrows():       # each run's MLflow Model holds the very .keras the run saved
        logged = mlflow_model_file(f"runs:/{row['run_id']}/model", tracking_uri_of(config), out / "downloads" / row["loss"])
        assert logged.read_bytes() == (run_dir_of(config.replace(loss=row["loss"])) / "model.keras").read_bytes()


def test_champion_is_the_best_loss_in_the_registry(comparison):
    "The comparison registered its best loss's model as p8seg-cityscapes@champion; it loads and predicts as the run's .keras."
    import mlflow
    from p8seg.inference import load_model, predict_probabilities
    from p8seg.tracking import tracking_uri_of
    config, out, table = comparison
    best = pd.read_csv(out / "runs.csv").set_index("loss").loc[table["loss"].iloc[0]]   # one seed: its run
    version = mlflow.MlflowClient(tracking_uri_of(config)).get_model_version_by_alias("p8seg-cityscapes", "champion")
    assert (version.run_id, version.tags["p8seg.loss"], version.tags["p8seg.seed"]) == (best["run_id"], best.name, "0")
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    served = load_model("models:/p8seg-cityscapes@champion", tracking_uri_of(config))
    saved = load_model(run_dir_of(config.replace(loss=best.name)) / "model.keras")
    assert np.abs(predict_probabilities(served, [photo])[0] - predict_probabilities(saved, [photo])[0]).max() <= 1e-6


def test_compare_and_evaluate_give_the_same_headline(comparison):
    "The table's mIoU of a run equals `evaluate` of its saved model on the same split at the model's size."
    from p8seg.evaluate import evaluate
    from p8seg.inference import load_model
    config, out, table = comparison
    model = load_model(run_dir_of(config.replace(loss="total")) / "model.keras")
    ev = evaluate(model, config.data, "val", full_res=False)
    assert math.isclose(ev.miou, record(config, "total")["row"]["miou"], abs_tol=1e-9)


def test_resume_trains_only_what_is_missing_and_reruns_are_identical(comparison, capsys):
    config, out, table = comparison
    before = {l: record(config, l) for l in LOSS_NAMES}
    (run_dir_of(config.replace(loss="iou")) / "result.json").unlink()
    capsys.readouterr()
    again = compare_losses(config, n_resamples=300)
    printed = capsys.readouterr().out
    assert "training iou (seed 0" in printed
    assert sum("already finished, skipped" in line for line in printed.splitlines()) == 4
    assert record(config, "iou")["row"]["miou"] == before["iou"]["row"]["miou"]      # seeded, deterministic
    assert np.allclose(again.set_index("loss").loc[list(LOSS_NAMES), "miou"], table.set_index("loss").loc[list(LOSS_NAMES), "miou"])
    assert len(runs_of(out, kind="training")) == 6


def test_seeds_share_a_start_within_a_seed(data, tmp_path):
    "Runs are keyed by (loss, seed): both seeds train (n_seeds 2) and each seed has one start for all its losses."
    config = tiny_config(data, tmp_path, epochs=1)
    table = compare_losses(config, losses=["dice", "total"], seeds=[0, 1], n_resamples=200)
    runs = runs_of(tmp_path, kind="training")
    assert len(runs) == 4
    digests = runs.groupby("params.seed")["params.initial_weights_digest"].nunique()
    assert list(digests) == [1, 1]                                           # same start across losses of a seed
    assert runs.groupby("params.seed")["params.initial_weights_digest"].first().nunique() == 2   # other seed, other start
    assert initial_digest(config.replace(seed=0)) != initial_digest(config.replace(seed=1))
    assert set(table["n_seeds"]) == {2} and table["miou_std"].notna().all()
    # resuming keyed by (loss, seed) is the same mechanism as by loss: test_resume_trains_only_what_is_missing...


def test_nan_run_is_failed_and_the_others_finish(data, tmp_path):
    config = tiny_config(data, tmp_path, arch="unet_mini_nobn")   # without BatchNorm, lr 1e10 makes the loss NaN at once
    table = compare_losses(config, losses=("dice", "tversky"), overrides={"dice": {"learning_rate": 1e10}}, n_resamples=200)
    assert dict(zip(table["loss"], table["status"])) == {"dice": "failed", "tversky": "finished"}
    assert math.isnan(table.set_index("loss").loc["dice", "miou"])
    runs = runs_of(tmp_path, kind="training").set_index("params.loss")
    assert runs.loc["dice", "status"] == "FAILED" and runs.loc["tversky", "status"] == "FINISHED"
    assert "failed" in (tmp_path / "results.md").read_text()


def test_bad_input_fails_before_training(data, tmp_path):
    config = tiny_config(data, tmp_path)
    with pytest.raises(P8segError, match="unknown loss.*bce"):
        compare_losses(config, losses=("dice", "bce"))
    with pytest.raises(P8segError, match="not reachable"):
        compare_losses(config.replace(tracking_uri="http://127.0.0.1:9"))
    with pytest.raises(P8segError, match="does not exist"):
        compare_losses(config.replace(data=str(tmp_path / "nowhere")))
    assert not (tmp_path / "runs").exists()


def compare_cmd(data, out, losses="dice,iou,tversky", epochs=2):
    return python_command(None, "compare", "--data", data, "--img-size", "64x128", "--epochs", epochs, "--batch-size", 4,
                          "--lr", "1e-3", "--losses", losses, "--out", out, "--quiet")


def test_killed_comparison_keeps_finished_runs(data, tmp_path):
    "SIGKILL while the second loss trains: a rerun skips the first, continues the second from its backup."
    out = tmp_path / "killed"
    cmd = compare_cmd(data, out)
    proc = subprocess.Popen(cmd, cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    try:   # killed once iou has finished its first epoch (its backup exists)
        while not (out / "runs" / "iou" / "seed0" / "backup" / "meta.json").exists():
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read().decode()[-2000:]
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL); proc.wait()
    assert (out / "runs" / "dice" / "seed0" / "result.json").exists()
    assert not (out / "runs" / "tversky" / "seed0" / "result.json").exists()
    iou = out / "runs" / "iou" / "seed0"
    assert not (iou / "result.json").exists(), "iou finished before the kill: the kill came too late to test a resume"
    backed_up = json.loads((iou / "backup" / "meta.json").read_text())["epochs"]
    assert backed_up == 1, backed_up                                       # killed in iou's second (last) epoch
    assert (out / ".p8seg.lock").exists()                                  # left behind by the killed process
    stale = set(runs_of(out).query("status == 'RUNNING'")["run_id"])
    rerun = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "dice (seed 0): already finished, skipped" in rerun.stdout
    assert "taking over the lock" in rerun.stdout
    assert "resuming iou (seed 0) after epoch 1" in rerun.stdout, rerun.stdout[-2000:]
    assert "training tversky (seed 0" in rerun.stdout
    assert sorted(pd.read_csv(out / "results.csv")["loss"]) == ["dice", "iou", "tversky"]
    after = runs_of(out).set_index("run_id")
    assert "RUNNING" not in set(after["status"])
    for run_id in stale:                       # left RUNNING by the killed process: marked, with a note saying why
        assert "restarted" in after.loc[run_id, "tags.p8seg.note"]
    assert set(after.loc[list(stale)].query("`tags.p8seg.kind` == 'comparison'")["status"]) == {"KILLED"}


def test_a_second_comparison_on_a_busy_folder_is_refused(data, tmp_path):
    out = tmp_path / "busy"
    first = subprocess.Popen(compare_cmd(data, out, "dice", epochs=30), cwd=REPO, env=subprocess_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (out / ".p8seg.lock").exists():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.05)
        second = subprocess.run(compare_cmd(data, out, "iou"), cwd=REPO, env=subprocess_env(), capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 1
        line = second.stderr.strip()
        assert "\n" not in line and f"in use by process {first.pid}" in line and "started" in line, second.stderr
    finally:
        first.kill(); first.wait()


COMMITTED = sorted(p.parent.name for p in (REPO / "results").glob("*/results.md")
                   if p.read_text().startswith("<!-- Written by `p8seg compare "))   # every committed comparison


def written_by(name) -> list:
    "The `p8seg compare` argv that results/<name>/results.md says wrote it."
    import shlex
    head = (REPO / "results" / name / "results.md").read_text().split("\n", 1)[0]
    return shlex.split(head.split("`")[1])


def test_every_committed_comparison_is_rendered():
    assert {"demo", "camvid", "camvid_car", "camvid_car_352x480_ep45"} <= set(COMMITTED)


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_comparison_renders_byte_equal(name, tmp_path, monkeypatch, request):
    """The command a committed comparison's results.md names, run with `--report-only` on a copy of the folder (no models,
    no initial weights, no MLflow store): every run counts as finished under that command's settings, and results.md,
    results.csv and runs.csv are written again byte for byte."""
    import shutil
    from p8seg.cli import make_parser, config_from_args
    args = make_parser().parse_args([*written_by(name)[1:], "--report-only"])
    if args.data != "synthetic":          # the command names ../shared/data/camvid: give the copy that neighbour
        (tmp_path / "shared" / "data").mkdir(parents=True)
        (tmp_path / "shared" / "data" / "camvid").symlink_to(request.getfixturevalue("camvid_root"))
    shutil.copytree(REPO / "results" / name, tmp_path / "wt" / "results" / name,
                    ignore=shutil.ignore_patterns("*.keras", "*.tflite", "backup*", "initial", "mlflow.db", "mlartifacts"))
    monkeypatch.chdir(tmp_path / "wt")
    config = config_from_args(args)
    compare_losses(config, losses=args.losses.split(","), seeds=args.seeds or (config.seed,), report_only=True)
    for f in ("results.md", "results.csv", "runs.csv"):
        assert (tmp_path / "wt" / "results" / name / f).read_bytes() == (REPO / "results" / name / f).read_bytes(), f


def test_report_only_writes_the_finished_grid_and_trains_nothing(comparison, tmp_path):
    """`p8seg compare --report-only` on a copy of a finished comparison: its outputs written again, nothing trained, the
    MLflow store untouched; asked for a seed not trained: one line naming every run not finished, exit 1, nothing trained."""
    import shutil
    config, out, _ = comparison
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("results.md", "results.csv"))
    db = (copy / "mlflow.db").stat().st_mtime_ns
    cmd = compare_cmd(config.data, copy, ",".join(LOSS_NAMES)) + ["--report-only"]
    done = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "training" not in done.stdout and "| loss" in done.stdout
    assert (copy / "results.md").exists() and len(pd.read_csv(copy / "results.csv")) == len(LOSS_NAMES)
    assert (copy / "mlflow.db").stat().st_mtime_ns == db
    more = subprocess.run(cmd + ["--seeds", "0,1"], cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert more.returncode == 1
    line = more.stderr.strip().splitlines()[-1]
    assert "not finished: " + ", ".join(f"{l} seed 1" for l in LOSS_NAMES) in line, more.stderr
    assert not any((copy / "runs" / l / "seed1").exists() for l in LOSS_NAMES)
