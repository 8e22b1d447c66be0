"`benchmarks/frontier.py` without training: the table, CSV and figure from hand-made JSON files (a reused Lite row, latency at three sizes, an idle and a busy machine), the reuse of benchmarks/recipe.py's runs."
import argparse, csv, json, shutil, subprocess, sys

import pytest

from conftest import REPO, subprocess_env

sys.path.insert(0, str(REPO / "benchmarks"))
import frontier  # noqa: E402

LITE_COMMAND = ("p8seg train --data ../shared/data/camvid --unseen 0006R0 --batch-size 8 --lr 0.001 --seed 0 --arch fpn_lite "
                "--backbone efficientnet_lite0 --encoder-weights imagenet --img-size 192x256 --epochs 30 --lr-schedule cosine "
                "--augment --random-scale 0.25 --ignore-void --loss focal_tversky --out recipe_runs/lite0_fpn_192x256 --quiet")
BASE = {"img_size": [96, 128], "unseen": ["0006R0"], "augment": False, "random_scale": 0.0, "epochs": 12, "batch_size": 8,
        "learning_rate": 0.001, "lr_schedule": "constant", "loss": "total", "class_weights": False, "ignore_void": False,
        "seed": 0, "arch": "unet_mini", "backbone": None, "encoder_weights": None, "out": "recipe_runs/baseline"}
LITE = {**BASE, "img_size": [192, 256], "augment": True, "random_scale": 0.25, "epochs": 30, "lr_schedule": "cosine",
        "loss": "focal_tversky", "ignore_void": True, "arch": "fpn_lite", "backbone": "efficientnet_lite0",
        "encoder_weights": "imagenet", "out": "recipe_runs/lite0_fpn_192x256"}
# architecture -> (fp32 ms, int8 ms) at 256x512, 384x480, 512x1024
LATENCY = {"unet_mini": ((400.0, 160.0), (500.0, 200.0), (1600.0, 640.0)),
           "lraspp_mobilenetv3_minimalistic": ((20.0, 25.0), (25.0, 30.0), (80.0, 100.0)),
           "fpn_lite/efficientnet_lite0": ((40.0, 12.5), (50.0, 14.0), (160.0, 40.0)),
           "lraspp/efficientnet_lite0": ((30.0, 10.0), (40.0, 20.0), (150.0, 62.5))}   # no accuracy JSON yet
MACHINES = {"idle": {"cpus": 2, "load_before": 0.1, "load_after": 1.9, "others_cpus": 0.02, "niceness": 0, "busy": False,
                     "result": True},
            "busy": {"cpus": 2, "load_before": 6.0, "load_after": 7.0, "others_cpus": 1.73, "niceness": 19, "busy": True,
                     "result": False}}


def record(name, params, val, val8, unseen, unseen8, mb, command=None, config=None):
    cats = dict.fromkeys(frontier.CATEGORIES, 0.5)
    s = lambda v, u: {"val": {"miou": v, "images": 101, "iou": cats}, "unseen": {"miou": u, "images": 101, "iou": cats}}
    return {"written_by": "hand", "name": name, "command": command or f"p8seg train --arch {name}", "config": config,
            "params": params, "int8_mb": mb, "keras": s(val, unseen), "int8": s(val8, unseen8)}


def lat(arch, variant, size, ms):
    return {"arch": arch, "size": list(size), "asked": list(size), "variant": variant, "median ms": ms, "min ms": ms,
            "fps": 1e3 / ms, "MB": 1.0, "GFLOPs": 0.5}


@pytest.mark.parametrize("state", ["idle", "busy"])
def test_table_from_json(tmp_path, state):
    results = tmp_path / "frontier"
    results.mkdir()
    (results / "unet_mini.json").write_text(json.dumps(record("unet_mini", 520_520, 0.722, 0.720, 0.489, 0.488, 0.55)))
    (results / "lraspp_mobilenetv3_minimalistic.json").write_text(json.dumps(
        record("lraspp_mobilenetv3_minimalistic", 590_328, 0.650, 0.630, 0.470, 0.465, 0.78)))
    (results / "fpn_lite_lite0.json").write_text(json.dumps(record(
        "fpn_lite_lite0", 3_012_345, 0.768, 0.761, 0.562, 0.555, 3.55, LITE_COMMAND + frontier.REUSED_NOTE, LITE)))
    rows = [lat(arch, variant, size, ms) for arch, sizes in LATENCY.items()
            for size, times in zip([(256, 512), (384, 480), (512, 1024)], sizes)
            for variant, ms in zip(("tflite fp32", "tflite int8"), times)]
    header = ["3 sizes, load average (1 min) 0.1 -> 1.9, other processes 0.02 CPUs, niceness 0"] if state == "idle" else \
             ["3 sizes, load average (1 min) 6.0 -> 7.0, other processes 1.73 CPUs, niceness 19", "WARNING: busy"]
    (results / "latency.json").write_text(json.dumps({"written_by": "hand", "header": header, "machine": MACHINES[state],
                                                      "rows": rows}))
    frontier.table(results, tmp_path, "python benchmarks/frontier.py --table")
    md = (tmp_path / "frontier.md").read_text().splitlines()
    assert md[0] == "Written by `python benchmarks/frontier.py --table` from the JSON files in `frontier/`"
    assert md[2] == "# The accuracy-speed frontier (CamVid)"
    assert ", departing from it in the one option named: lraspp_mobilenetv3_minimalistic_192x256 (--img-size 192x256). " in md[4]
    assert ("reused, not retrained: fpn_lite_lite0 (lite0_fpn_192x256), lraspp_lite0 (lite0_lraspp_192x256), "
            "fpn_lite_lite2 (lite2_fpn_192x256), fpn_lite_lite0_288x384 (lite0_fpn_288x384), fpn_lite_lite0_352x480 "
            "(lite0_fpn_352x480_total_ep45); their recipe is not the one above") in md[4]
    assert all(f"> {h}" in md for h in header)
    assert ("**Latency is a result only when taken at niceness 0 on an idle machine** (other processes taking at most a "
            "tenth of the CPUs during the run, as bench_deploy measures it). Figures taken on a busy machine or at a "
            "niceness above 0 are a warning, not a result: no speed goal below is judged on them.") in md
    warning = [line for line in md if line.startswith("**The latency figures below are a warning")]
    assert warning == ([] if state == "idle" else [
        "**The latency figures below are a warning, not a result:** the machine was busy (other processes took 1.73 of "
        "its 2 CPUs on average; load average 6.0 -> 7.0); they were taken at niceness 19. Rerun "
        "`python benchmarks/frontier.py --retime` at normal priority on an idle machine."])
    assert "| " + " | ".join(frontier.COLUMNS) + " |" == (
        "| network | params | val keras | val int8 | unseen keras | unseen int8 | fp32 ms 256x512 | fp32 fps 256x512 | "
        "int8 ms 256x512 | int8 fps 256x512 | int8 ms 384x480 | int8 fps 384x480 | int8 ms 512x1024 | int8 fps 512x1024 | "
        "int8 MB | GFLOPs 256x512 |")
    table = [line for line in md if line.startswith("| ") and not line.startswith("| network")]
    assert table == [
        "| unet_mini | 520,520 | 0.722 | 0.720 | 0.489 | 0.488 | 400.0 | 2.5 | 160.0 | 6.2 | 200.0 | 5.0 | 640.0 | 1.6 | 0.55 | 0.50 |",
        "| lraspp_mobilenetv3_minimalistic | 590,328 | 0.650 | 0.630 | 0.470 | 0.465 | 20.0 | 50.0 | 25.0 | 40.0 | 30.0 | 33.3 "
        "| 100.0 | 10.0 | 0.78 | 0.50 |",
        "| fpn_lite_lite0 | 3,012,345 | 0.768 | 0.761 | 0.562 | 0.555 | 40.0 | 25.0 | 12.5 | 80.0 | 14.0 | 71.4 | 40.0 | 25.0 "
        "| 3.55 | 0.50 |"]
    assert ("Not finished (no JSON yet): unet_mini_nobn, linknet_mobilenetv2, lraspp_mobilenetv3, "
            "lraspp_mobilenetv3_minimalistic_192x256, lraspp_lite0 (waits for benchmarks/recipe.py's lite0_lraspp_192x256), "
            "fpn_lite_lite2 (waits for benchmarks/recipe.py's lite2_fpn_192x256), fpn_lite_lite0_288x384 (waits for benchmarks/recipe.py's lite0_fpn_288x384), "
            "fpn_lite_lite0_352x480 (waits for benchmarks/recipe.py's lite0_fpn_352x480_total_ep45).") in md
    assert "- unet_mini: int8 - Keras on val -0.0020 (within 0.01), on unseen -0.0010 (within 0.01)" in md
    assert "- lraspp_mobilenetv3_minimalistic: int8 - Keras on val -0.0200 (OUTSIDE 0.01), on unseen -0.0050 (within 0.01)" in md
    assert "- fpn_lite_lite0: int8 - Keras on val -0.0070 (within 0.01), on unseen -0.0070 (within 0.01)" in md
    judged = lambda v: v if state == "idle" else "not judged: a warning, not a result"
    assert ("- goal '>= 30 fps at 256x512 int8, unseen within 0.03 of unet_mini': lraspp_mobilenetv3_minimalistic 40.0 fps "
            f"({judged('MET')}), unseen 0.465 against unet_mini's 0.488 (int8; within 0.03)") in md
    floor = "- the car's floor '>= 60 fps at 384x480 and >= 20 fps at 512x1024, int8, 2 threads': "
    assert [line for line in md if line.startswith(floor)] == [
        f"{floor}fpn_lite_lite0 71.4 fps at 384x480, 25.0 fps at 512x1024 ({judged('MET')})",
        f"{floor}lraspp_lite0 50.0 fps at 384x480, 16.0 fps at 512x1024 ({judged('NOT MET')})",
        f"{floor}fpn_lite_lite2 not measured",
        f"{floor}fpn_lite_lite0_288x384 71.4 fps at 384x480, 25.0 fps at 512x1024 ({judged('MET')})",   # the same timed arch
        f"{floor}fpn_lite_lite0_352x480 71.4 fps at 384x480, 25.0 fps at 512x1024 ({judged('MET')})"]
    assert md[md.index("![mIoU against latency](frontier.png)") + 2].startswith(
        "frontier.png: val and unseen mIoU of each int8 export against its median latency at 384x480 (the camera's ")
    assert f"- fpn_lite_lite0: `{LITE_COMMAND} (reused: benchmarks/recipe.py's run)`" in md
    with open(tmp_path / "frontier.csv") as fh:
        lines = list(csv.reader(fh))
    assert lines[0][0].startswith("# Written by `python benchmarks/frontier.py --table`")
    if state == "busy":
        assert (tmp_path / "frontier.csv").read_text().splitlines()[1] == (
            "# latency a warning, not a result: the machine was busy (other processes took 1.73 of its 2 CPUs on average; "
            "load average 6.0 -> 7.0); they were taken at niceness 19")
        lines.pop(1)
    assert tuple(lines[1]) == frontier.COLUMNS
    assert lines[2] == ["unet_mini", "520520", "0.7220", "0.7200", "0.4890", "0.4880", "400.0000", "2.5000", "160.0000",
                        "6.2500", "200.0000", "5.0000", "640.0000", "1.5625", "0.5500", "0.5000"]
    assert [line[0] for line in lines[2:]] == ["unet_mini", "lraspp_mobilenetv3_minimalistic", "fpn_lite_lite0"]
    assert (tmp_path / "frontier.png").stat().st_size > 10_000


def test_reuses_recipe_rows(tmp_path, monkeypatch, capsys):
    """A network reuses its recipe row's run when the row's JSON is there and the run's config is the JSON's (unet_mini:
    only the frontier's own recipe at 12 epochs); a Lite network without one is not finished, never trained here."""
    runs, rec = tmp_path / "recipe_runs", tmp_path / "recipe"
    rec.mkdir()
    monkeypatch.setattr(frontier, "RECIPE_RUNS", runs); monkeypatch.setattr(frontier, "RECIPE_RESULTS", rec)
    write = lambda path, obj: (path.parent.mkdir(parents=True, exist_ok=True), path.write_text(json.dumps(obj)))
    write(rec / "baseline.json", {"command": "p8seg train --out recipe_runs/baseline", "config": BASE})
    base_run = runs / "baseline" / "runs" / "total" / "seed0"
    write(base_run / "run.json", {"config": BASE}); (base_run / "model.keras").write_bytes(b"")
    row = frontier.recipe_row("unet_mini", 12)
    assert row["command"] == "p8seg train --out recipe_runs/baseline" and frontier.reusable("unet_mini", row) == base_run
    assert frontier.recipe_row("unet_mini", 1) is None                      # not the frontier's recipe at 1 epoch
    write(base_run / "run.json", {"config": {**BASE, "seed": 1}})           # the run no longer the row's
    assert frontier.reusable("unet_mini", row) is None

    assert frontier.recipe_row("fpn_lite_lite0", 12) is None                # no row JSON yet
    write(rec / "lite0_fpn_192x256.json", {"command": LITE_COMMAND, "config": LITE})
    row = frontier.recipe_row("fpn_lite_lite0", 12)
    assert row["config"]["loss"] == "focal_tversky" and frontier.recipe_row("fpn_lite_lite0", 1) == row  # any --epochs
    assert frontier.reusable("fpn_lite_lite0", row) is None                 # no run yet
    lite_run = runs / "lite0_fpn_192x256" / "runs" / "focal_tversky" / "seed0"
    write(lite_run / "run.json", {"config": {**LITE, "epochs": 29}}); (lite_run / "model.keras").write_bytes(b"")
    assert frontier.reusable("fpn_lite_lite0", row) is None                 # another config
    write(lite_run / "run.json", {"config": LITE})
    assert frontier.reusable("fpn_lite_lite0", row) == lite_run
    write(rec / "lite2_fpn_192x256.json", {"command": "x", "config": LITE})  # a Lite0 run is not Lite2's
    assert frontier.recipe_row("fpn_lite_lite2", 12) is None

    args = argparse.Namespace(data="d", work="w", epochs=12, retrain_unet_mini=False, n_calib=16)
    results = tmp_path / "frontier"; results.mkdir()
    frontier.run("lraspp_lite0", args, results)
    assert capsys.readouterr().out == ("frontier lraspp_lite0: not finished (benchmarks/recipe.py's lite0_lraspp_192x256 "
                                       "has no finished run here)\n")
    assert not (results / "lraspp_lite0.json").exists()
    shutil.rmtree(lite_run)                                                 # scored before, its run folder gone: kept
    write(results / "fpn_lite_lite0.json", {"command": LITE_COMMAND + frontier.REUSED_NOTE, "config": LITE})
    frontier.run("fpn_lite_lite0", args, results)
    assert capsys.readouterr().out == "frontier fpn_lite_lite0: done, skipped (fpn_lite_lite0.json)\n"
    write(rec / "lite0_fpn_192x256.json", {"command": LITE_COMMAND, "config": {**LITE, "seed": 1}})  # the row rerun
    frontier.run("fpn_lite_lite0", args, results)
    assert "fpn_lite_lite0: not finished" in capsys.readouterr().out
    with pytest.raises(ValueError, match="trained by benchmarks/recipe.py"):
        frontier.command("fpn_lite_lite0", "d", "w", 12)


def test_commands():
    assert frontier.command("linknet_mobilenetv2", "../shared/data/camvid", "frontier_runs", 12) == [
        "p8seg", "train", "--data", "../shared/data/camvid", "--loss", "total", "--unseen", "0006R0", "--img-size",
        "96x128", "--batch-size", "8", "--lr", "0.001", "--seed", "0", "--epochs", "12", "--arch", "linknet",
        "--backbone", "mobilenetv2", "--out", "frontier_runs/linknet_mobilenetv2", "--quiet"]
    sized = frontier.command("lraspp_mobilenetv3_minimalistic_192x256", "d", "w", 12)
    assert sized[sized.index("--img-size") + 1] == "192x256" and sized.count("--img-size") == 1, sized
    assert frontier.latency_argv(list(frontier.NETWORKS), 30, frontier.REPO / "results/deploy/frontier/latency.json") == [
        "benchmarks/bench_deploy.py", "--archs", "unet_mini,lraspp_mobilenetv3_minimalistic,unet_mini_nobn,"
        "linknet/mobilenetv2,lraspp_mobilenetv3,fpn_lite/efficientnet_lite0,lraspp/efficientnet_lite0,"
        "fpn_lite/efficientnet_lite2", "--sizes", "256x512,384x480,512x1024", "--runs", "30", "--warmup", "5",
        "--json", "results/deploy/frontier/latency.json"]


def test_unknown_network_is_refused():
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "frontier.py"), "--only", "unet_mini,resnet"], cwd=REPO,
                       capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert r.returncode == 2 and "unknown network(s) ['resnet']" in r.stderr, r.stderr


def test_a_reused_run_that_scores_otherwise_than_its_record_is_named(tmp_path, monkeypatch):
    "The table names a reused row whose run (made again by the row's command) scores otherwise than the row's record."
    monkeypatch.setattr(frontier, "RECIPE_RESULTS", tmp_path)
    (tmp_path / "lite0_fpn_192x256.json").write_text(json.dumps({"val": {"miou": 0.8295}, "unseen": {"miou": 0.6620}}))
    row = lambda val, unseen, recipe_row="lite0_fpn_192x256": {
        "network": "fpn_lite_lite0", "val keras": val, "unseen keras": unseen, "record": {"recipe_row": recipe_row}}
    assert frontier.record_gap(row(0.8297, 0.6618)) is None                 # within 5e-4: the record's own run
    assert frontier.record_gap(row(0.8270, 0.6618)) == (
        "- fpn_lite_lite0: its run scores val 0.827, unseen 0.662 (Keras); the record of "
        "`results/recipe/lite0_fpn_192x256.json` says 0.830, 0.662: the run here is the row's command run again, "
        "not the run of the record")
    assert frontier.record_gap(row(0.5, 0.5, None)) is None                 # trained here, no row
    assert frontier.record_gap(row(0.5, 0.5, "lite2_fpn_192x256")) is None  # no record there
