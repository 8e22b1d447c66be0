"`benchmarks/recipe.py` without training: each recipe's command, and the full-split command of the committed model."
import json, shlex, sys
from pathlib import Path

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import recipe  # noqa: E402


def test_a_recipe_is_the_base_options_then_its_own():
    assert recipe.command("baseline", "../shared/data/camvid", "recipe_runs") == [
        "p8seg", "train", "--data", "../shared/data/camvid", "--loss", "total", "--unseen", "0006R0", "--batch-size", "8",
        "--lr", "0.001", "--seed", "0", "--img-size", "96x128", "--epochs", "12", "--out", "recipe_runs/baseline", "--quiet"]


def test_a_recipe_option_replaces_the_base_one():
    argv = recipe.command("aug_cosine60_128x160_iv_ft", "d", "w")
    assert argv.count("--loss") == 1 and argv[argv.index("--loss") + 1] == "focal_tversky"
    assert "--ignore-void" in argv and "--augment" in argv and argv[argv.index("--unseen") + 1] == "0006R0"


def test_the_full_split_command_drops_only_unseen():
    held, full = recipe.command("cosine60_128x160", "d", "w"), recipe.command("cosine60_128x160", "d", "w", unseen=False)
    assert "--unseen" not in full and full[full.index("--out") + 1] == "w/final_cosine60_128x160"
    assert [a for a in held if a not in ("--unseen", "0006R0", "w/cosine60_128x160")] == \
           [a for a in full if a != "w/final_cosine60_128x160"]


def test_the_cars_rule_takes_the_highest_unseen_among_pretrained_rows_that_keep_val():
    row = lambda name, val, unseen, weights="imagenet": {"name": name, "config": {"encoder_weights": weights},
                                                          "val": {"miou": val}, "unseen": {"miou": unseen}}
    rows = [row("scratch", 0.90, 0.70, None), row("forgets", 0.71, 0.69), row("a", 0.80, 0.60), row("b", 0.75, 0.62)]
    assert recipe.car_choice(rows) == "b"                          # not scratch (no encoder), not forgets (val < 0.72)
    assert recipe.car_choice(rows[:2]) is None
    second_seed = {**row("b_s1", 0.76, 0.64), "config": {"encoder_weights": "imagenet", "seed": 1}}
    assert recipe.car_choice(rows + [second_seed]) == "b"         # a second seed measures a recipe's spread, is not one


def test_a_second_seed_is_set_beside_its_seed_0_twin():
    row = lambda name, seed, val, unseen, epochs=45: {"name": name, "val": {"miou": val}, "unseen": {"miou": unseen},
        "config": {"encoder_weights": "imagenet", "epochs": epochs, "seed": seed, "out": f"w/{name}"}}
    rows = [row("a", 0, 0.830, 0.662), row("a_s1", 1, 0.825, 0.650), row("b", 0, 0.8, 0.6, epochs=30),
            row("c_s2", 2, 0.7, 0.5, epochs=60)]                   # c_s2 has no seed-0 twin: no line
    assert recipe.seed_twins(rows) == ["", "**Second seeds** (the same recipe, another seed: how far the seed alone moves it):",
                                       "- a at seeds 0 and 1 (a_s1): val 0.830 and 0.825 (-0.005), unseen 0.662 and 0.650 (-0.012)"]
    assert recipe.seed_twins(rows[:1] + rows[2:]) == []


def test_the_committed_car_choice_is_what_the_car_and_the_frontier_use():
    "results/camvid_best is trained by the rule's choice, and the frontier's car row reuses that row's run."
    import frontier
    chosen = recipe.car_choice()
    assert f"Chosen so far: **{chosen}**" in (REPO / "results" / "recipe" / "README.md").read_text()
    assert json.loads((REPO / "results" / "camvid_best" / "scores.json").read_text())["recipe"] == chosen
    assert frontier.REUSED["fpn_lite_lite0_352x480"] == chosen
    assert f"fpn_lite_lite0_352x480 ({chosen})" in (REPO / "results" / "deploy" / "frontier.md").read_text()


def test_every_committed_row_is_its_recipes_command():
    "A rerun skips a row only when its JSON holds the same command: every committed JSON does (nothing would retrain)."
    for path in sorted((REPO / "results" / "recipe").glob("*.json")):
        row = json.loads(path.read_text())
        assert row["command"] == shlex.join(recipe.command(row["name"], "../shared/data/camvid", "recipe_runs")), path.name


def test_an_errors_folder_is_its_commands_output():
    "Each committed errors/<row>/ holds what `p8seg evaluate` wrote, its README's mean is scores.csv's and the row JSON's unseen."
    import pandas as pd
    for d in sorted((REPO / "results" / "recipe" / "errors").glob("*")):
        assert {"README.md", "scores.csv", "per_image.csv", "confusion.png", "worst.png", "report.json"} <= {p.name for p in d.iterdir()}, d.name
        mean = pd.read_csv(d / "scores.csv").set_index("category").loc["mean (7 categories)", "iou"]
        row = json.loads((REPO / "results" / "recipe" / f"{d.name}.json").read_text())
        assert abs(mean - row["unseen"]["miou"]) < 1e-9 and f"| mean (7 categories) | {mean:.3f} |" in (d / "README.md").read_text()
        report, images = json.loads((d / "report.json").read_text()), pd.read_csv(d / "per_image.csv")
        assert f"--errors {d.name}`" in (d / "README.md").read_text() and len(images) == row["unseen"]["images"]
        assert not any(Path(p).is_absolute() for p in [report["model"], report["scored_on"]["root"], *images["image"]]), d.name


def test_errors_of_a_row_without_its_run_names_it(tmp_path, capsys):
    import pytest
    with pytest.raises(SystemExit) as e: recipe.errors("baseline", "d", str(tmp_path.relative_to(tmp_path.anchor)) + "/none")
    assert "no finished run" in str(e.value) and "--only baseline" in str(e.value)


def test_a_finished_training_is_scored_not_run_again(tmp_path, monkeypatch):
    """recipe.py stopped between training and scoring: the rerun finds the command's finished run (its run.json) and
    only scores it, with the minutes kept beside it (None when it kept none); a different command trains again."""
    name, data = "lite0_fpn_352x480_total_ep45_s1", "../shared/data/camvid"
    folder = tmp_path / "w" / name / "runs" / "total" / "seed1"
    assert recipe.REPO / recipe.run_dir(name, tmp_path / "w") == folder            # the seed names the folder
    ran = []
    monkeypatch.setattr(recipe, "run_p8seg", lambda argv, cwd: ran.append(argv) or {"wall_min": 31.0, "cpu_min": 57.0})
    assert recipe.train_once(name, data, tmp_path / "w") == {"wall_min": 31.0, "cpu_min": 57.0} and len(ran) == 1
    assert json.loads((folder / "recipe_minutes.json").read_text()) == {"wall_min": 31.0, "cpu_min": 57.0}
    (folder / "run.json").write_text(json.dumps({"config": recipe.trained_config(name, data, tmp_path / "w")}))
    assert recipe.train_once(name, data, tmp_path / "w") == {"wall_min": 31.0, "cpu_min": 57.0} and len(ran) == 1
    (folder / "recipe_minutes.json").unlink()
    assert recipe.train_once(name, data, tmp_path / "w") == {"wall_min": None, "cpu_min": None} and len(ran) == 1
    (folder / "run.json").write_text(json.dumps({"config": {**recipe.trained_config(name, data, tmp_path / "w"), "epochs": 30}}))
    recipe.train_once(name, data, tmp_path / "w"); assert len(ran) == 2                 # another command's run: trains
    assert (recipe.minutes_text(None), recipe.minutes_text(31.04)) == ("–", "31.0")
