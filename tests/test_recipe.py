"`benchmarks/recipe.py` without training: each recipe's command, and the full-split command of the committed model."
import json, shlex, sys

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
