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
