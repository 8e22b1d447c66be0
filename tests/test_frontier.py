"`benchmarks/frontier.py` without training: the table, CSV and figure from hand-made JSON files, the reuse of the recipe ablation's baseline run."
import csv, json, subprocess, sys

from conftest import REPO, subprocess_env

sys.path.insert(0, str(REPO / "benchmarks"))
import frontier  # noqa: E402


def record(name, params, val, val8, unseen, unseen8, mb):
    cats = dict.fromkeys(frontier.CATEGORIES, 0.5)
    s = lambda v, u: {"val": {"miou": v, "images": 101, "iou": cats}, "unseen": {"miou": u, "images": 101, "iou": cats}}
    return {"written_by": "hand", "name": name, "command": f"p8seg train --arch {name}", "params": params,
            "int8_mb": mb, "keras": s(val, unseen), "int8": s(val8, unseen8)}


def lat(arch, variant, ms):
    return {"arch": arch, "size": [256, 512], "asked": [256, 512], "variant": variant, "median ms": ms, "min ms": ms,
            "fps": 1e3 / ms, "MB": 1.0, "GFLOPs": 0.5}


def test_table_from_json(tmp_path):
    results = tmp_path / "frontier"
    results.mkdir()
    (results / "unet_mini.json").write_text(json.dumps(record("unet_mini", 520_520, 0.722, 0.720, 0.489, 0.488, 0.55)))
    (results / "lraspp_mobilenetv3_minimalistic.json").write_text(json.dumps(
        record("lraspp_mobilenetv3_minimalistic", 590_328, 0.650, 0.630, 0.470, 0.465, 0.78)))
    rows = [lat("unet_mini", "tflite fp32", 400.0), lat("unet_mini", "tflite int8", 160.0),
            lat("lraspp_mobilenetv3_minimalistic", "tflite fp32", 20.0),
            lat("lraspp_mobilenetv3_minimalistic", "tflite int8", 25.0)]
    (results / "latency.json").write_text(json.dumps({"written_by": "hand", "header": ["busy"], "rows": rows}))
    frontier.table(results, tmp_path, "python benchmarks/frontier.py --table")
    md = (tmp_path / "frontier.md").read_text().splitlines()
    assert md[0] == "Written by `python benchmarks/frontier.py --table` from the JSON files in `frontier/`"
    assert "| unet_mini | 520,520 | 0.722 | 0.720 | 0.489 | 0.488 | 400.0 | 400.0 | 2.5 | 160.0 | 160.0 | 6.2 | 0.55 | 0.50 |" in md
    assert "Departing from the recipe in the one option named: lraspp_mobilenetv3_minimalistic_192x256 (--img-size 192x256)." in md[4]
    assert ("| lraspp_mobilenetv3_minimalistic | 590,328 | 0.650 | 0.630 | 0.470 | 0.465 | 20.0 | 20.0 | 50.0 | 25.0 | 25.0 | 40.0 "
            "| 0.78 | 0.50 |") in md
    assert "> busy" in md
    assert ("Not finished (no JSON yet): unet_mini_nobn, linknet_mobilenetv2, lraspp_mobilenetv3, "
            "lraspp_mobilenetv3_minimalistic_192x256.") in md
    assert "- unet_mini: int8 - Keras on val -0.0020 (within 0.01), on unseen -0.0010" in md
    assert "- lraspp_mobilenetv3_minimalistic: int8 - Keras on val -0.0200 (OUTSIDE 0.01), on unseen -0.0050" in md
    assert ("- goal '>= 30 fps at 256x512 int8, unseen within 0.03 of unet_mini': lraspp_mobilenetv3_minimalistic 40.0 fps, "
            "unseen 0.465 against unet_mini's 0.488 (int8; within 0.03)") in md
    with open(tmp_path / "frontier.csv") as fh:
        lines = list(csv.reader(fh))
    assert lines[0][0].startswith("# Written by `python benchmarks/frontier.py --table`")
    assert tuple(lines[1]) == frontier.COLUMNS
    assert lines[2][:4] == ["unet_mini", "520520", "0.7220", "0.7200"] and len(lines) == 4
    assert (tmp_path / "frontier.png").stat().st_size > 10_000


def test_reuses_only_the_same_recipe(tmp_path, monkeypatch):
    "The recipe ablation's baseline run (unet_mini, the recipe, 12 epochs) is reused at 12, not at 1, nor when absent."
    run = tmp_path / "run"; run.mkdir()
    config = {"loss": "total", "unseen": ["0006R0"], "img_size": [96, 128], "batch_size": 8, "learning_rate": 0.001,
              "seed": 0, "epochs": 12, "arch": "unet_mini", "augment": False, "lr_schedule": "constant", "class_weights": False}
    (run / "run.json").write_text(json.dumps({"config": config})); (run / "model.keras").write_bytes(b"")
    (tmp_path / "baseline.json").write_text(json.dumps({"command": "p8seg train ..."}))
    monkeypatch.setattr(frontier, "BEST", run); monkeypatch.setattr(frontier, "BEST_RECORD", tmp_path / "baseline.json")
    assert frontier.reusable_best(12)["arch"] == "unet_mini"
    assert frontier.reusable_best(1) is None
    (run / "run.json").write_text(json.dumps({"config": {**config, "arch": "unet_mini_nobn"}}))
    assert frontier.reusable_best(12) is None
    monkeypatch.setattr(frontier, "BEST", tmp_path / "absent")
    assert frontier.reusable_best(12) is None
    assert frontier.command("linknet_mobilenetv2", "../shared/data/camvid", "frontier_runs", 12) == [
        "p8seg", "train", "--data", "../shared/data/camvid", "--loss", "total", "--unseen", "0006R0", "--img-size",
        "96x128", "--batch-size", "8", "--lr", "0.001", "--seed", "0", "--epochs", "12", "--arch", "linknet",
        "--backbone", "mobilenetv2", "--out", "frontier_runs/linknet_mobilenetv2", "--quiet"]
    sized = frontier.command("lraspp_mobilenetv3_minimalistic_192x256", "d", "w", 12)
    assert sized[sized.index("--img-size") + 1] == "192x256" and sized.count("--img-size") == 1, sized


def test_unknown_network_is_refused():
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "frontier.py"), "--only", "unet_mini,resnet"], cwd=REPO,
                       capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert r.returncode == 2 and "unknown network(s) ['resnet']" in r.stderr, r.stderr
