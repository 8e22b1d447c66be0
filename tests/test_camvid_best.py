"`results/camvid_best/`: its README is what `benchmarks/camvid_best.py` renders from its `scores.json`, and the committed files score what `scores.json` says."
import json, sys
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import camvid_best  # noqa: E402

BEST = REPO / "results" / "camvid_best"


def scores(): return json.loads((BEST / "scores.json").read_text())


def test_readme_is_rendered_from_scores_json():
    assert (BEST / "README.md").read_text() == camvid_best.render(scores())


def test_the_committed_model_trained_on_the_full_split_and_names_its_twin():
    "Trained without --unseen (every street), by the chosen recipe's command minus --unseen; the twin held out a street."
    s, run = scores(), json.loads((BEST / "run.json").read_text())
    assert run["config"]["unseen"] in ([], None) and "--unseen" not in s["command"]
    assert s["twin"]["unseen_groups"] and f"--unseen {','.join(s['twin']['unseen_groups'])}" in s["twin"]["command"]
    recipe = json.loads((REPO / "results" / "recipe" / f"{s['recipe']}.json").read_text())
    assert recipe["command"] == s["twin"]["command"] and recipe["unseen"] == s["twin"]["unseen"]
    assert s["train_images"] > s["twin"]["train_images"] > 0
    assert s["command"] == " ".join(camvid_best.recipe_command(s["recipe"], "../shared/data/camvid", "recipe_runs", unseen=False))


def test_the_committed_files_score_what_scores_json_says(camvid_root):
    "Keras and int8 val mIoU of the committed files, re-scored now, within 1e-3 of scores.json (and the README agrees)."
    from p8seg.inference import load_model, TFLiteModel
    s = scores()
    assert abs(camvid_best.score(load_model(BEST / "model.keras"), camvid_root)["miou"] - s["keras_val"]["miou"]) < 1e-3
    assert abs(camvid_best.score(TFLiteModel(BEST / "model_int8.tflite"), camvid_root)["miou"] - s["int8_val"]["miou"]) < 1e-3


def test_measure_speed_times_each_size_and_records_the_machine():
    "int8 speed of a model's weights rebuilt at each size, with bench_deploy.Watch's record of the machine (tiny unet_mini, 2 frames)."
    import os
    from p8seg.models import build_model
    model = build_model("unet_mini", input_size=(32, 64, 3))
    s = camvid_best.measure_speed(model, {"arch": "unet_mini"}, [(32, 64), (64, 64)], runs=2)
    assert [r["size"] for r in s["rows"]] == ["32x64", "64x64"], s
    assert all(0 < r["min_ms"] <= r["median_ms"] for r in s["rows"]), s
    assert (s["threads"], s["runs"], s["niceness"]) == (2, 2, os.nice(0)) and isinstance(s["busy"], bool), s
    assert min(s["load_before"], s["load_after"]) >= 0 and (s["others_cpus"] is None or s["others_cpus"] >= 0), s
