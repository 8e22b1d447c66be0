"benchmarks/conclusion.py: the committed conclusion is what the script writes from the committed results; the budget note."
import shutil, sys
from pathlib import Path
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import conclusion  # noqa: E402


def test_budget_note_by_hand():
    runs = pd.DataFrame({"train_time_s": [600.0, 900.0, 1200.0]})     # 10, 15 and 20 minutes
    note = conclusion.budget_note(runs)
    assert "a median of 15 min per run here (3 runs on 2 cores, from 10 to 20 min;" in note
    assert "5 losses × 3 seeds take about 3.8 h one after another" in note          # 15 runs x 15 min = 3.75 h


def test_the_committed_conclusion_rerenders_byte_for_byte(tmp_path, capsys):
    "Only the tables and reports the script reads are copied: what it writes must be the committed file."
    results = REPO / "results"
    for folder in ("camvid", "demo", "camvid_car"):
        (tmp_path / folder).mkdir()
        for name in ("results.csv", "results.md", "runs.csv"):
            if (results / folder / name).exists(): shutil.copy(results / folder / name, tmp_path / folder / name)
        for run in (results / folder).glob("runs/*/*/run.json"):                # the network's name is read from a run
            (tmp_path / run.relative_to(results)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(run, tmp_path / run.relative_to(results))
    (tmp_path / "camvid_best").mkdir()
    shutil.copy(results / "camvid_best" / "scores.json", tmp_path / "camvid_best" / "scores.json")
    conclusion.main(["--results", str(tmp_path)])
    assert (tmp_path / "conclusion.md").read_text() == (results / "conclusion.md").read_text()
    assert "wrote" in capsys.readouterr().out


def test_the_cars_committed_model_trains_with_the_cars_loss():
    "results/camvid_best/ was trained (and its held-out twin too) with the loss the car's comparison chooses by the rule."
    import json
    car = REPO / "results" / "camvid_car"
    table = conclusion.read_table(car)
    pick, _ = conclusion.car_choice(table.set_index("loss"), conclusion.unseen_stats(table))
    best = json.loads((REPO / "results" / "camvid_best" / "scores.json").read_text())
    assert best["config"]["loss"] == pick, f"results/camvid_best trained with {best['config']['loss']}, the verdict picks {pick}"
    assert f"--loss {pick}" in best["command"] and f"--loss {pick}" in best["twin"]["command"]
    run = json.loads((REPO / "results" / "camvid_best" / "run.json").read_text())
    assert run["config"]["loss"] == pick
