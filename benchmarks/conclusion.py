"""The project's conclusion, generated from the committed results: `results/conclusion.md`.

    python benchmarks/conclusion.py [--results results]

Reads `results/camvid/` (the five-loss comparison on CamVid, `val` and the unseen streets), `results/demo/` (the same
on the synthetic streets) and `results/camvid_best/` (the committed model and its int8 export), and writes every
sentence from their numbers by stated rules (`p8seg.stats`: a loss is worse only when the 95% interval of its difference
to the best excludes 0). Nothing in the output is typed by hand; rerun it after any of those folders changes.
"""
from __future__ import annotations
import argparse, json, re, sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path: sys.path.insert(0, str(REPO))

import pandas as pd
from p8seg.stats import conclusion, verdicts, verdict_summary
from p8seg.compare import unseen_stats

ORIGINAL_ANSWER = "total"   # the original Projet 8 notebook's answer: "Total Loss" (cross-entropy + 3·Dice)


def read_table(folder: Path) -> pd.DataFrame:
    "A comparison's `results.csv` (fails naming the file when it is missing)."
    path = folder / "results.csv"
    if not path.exists(): raise SystemExit(f"{path}: missing; run the comparison that writes it first")
    return pd.read_csv(path)


def written_by(folder: Path) -> str:
    "The command a results folder's `results.md` says wrote it."
    m = re.search(r"<!-- Written by `([^`]+)`", (folder / "results.md").read_text())
    return m.group(1) if m else f"p8seg compare (see {folder.name}/results.md)"


def section(folder: Path, title: str) -> str:
    "One `## title` section of a comparison's `results.md`, without its heading."
    text = (folder / "results.md").read_text()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return m.group(1).strip() if m else ""


def holds(table: pd.DataFrame, loss: str) -> str:
    "Whether `loss` is the best or tied with it on one split's table, in words."
    v = verdicts(table)
    if loss not in v.index: return "was not compared"
    best = table["miou"].idxmax()
    if loss == best:
        n_tied, n_other = int((v == "tied").sum()), len(v) - 1
        if not n_tied: return "holds: it has the highest mIoU and every other loss is worse by the rule"
        return (f"holds only weakly: it has the highest mIoU, but {'all' if n_tied == n_other else n_tied} of the other "
                f"{n_other} losses are tied with it")
    return "holds only as a tie: it is tied with the best" if v[loss] == "tied" else f"does not hold: {best} is better by the rule"


def car_choice(val: pd.DataFrame, new: pd.DataFrame | None) -> tuple:
    "The loss for the car: the best on the unseen streets; among the losses tied there, the best on val. -> (loss, why)"
    if new is None:
        return val["miou"].idxmax(), "the highest val mIoU (no unseen split was scored)"
    v = verdicts(new)
    candidates = [l for l in new.index if v[l] in ("best", "tied")]
    pick = max(candidates, key=lambda l: val.loc[l, "miou"])
    why = ("the highest mIoU on the unseen streets" if len(candidates) == 1 else
           f"tied on the unseen streets with {', '.join(c for c in candidates if c != pick)}, and the highest val mIoU "
           "among those")
    return pick, why


def network_name(folder: Path) -> str:
    "The network a comparison trained, from the config of one of its runs."
    for run in sorted(folder.glob("runs/*/*/run.json")):
        c = json.loads(run.read_text())["config"]
        name = c["arch"] + (f" on {c.get('backbone') or 'efficientnet_lite0'}" if c["arch"] in ("fpn_lite", "lraspp") else "")
        return name + (" (ImageNet encoder)" if c.get("encoder_weights") else "")
    return "?"


def budget_note(runs: pd.DataFrame, losses: int = 5, seeds: int = 3) -> str:
    "What a run cost here (median training minutes of `runs.csv`) and what `losses` x `seeds` runs cost one after another."
    minutes = runs["train_time_s"].median() / 60
    return (f"**Budget.** Training took a median of {minutes:.0f} min per run here ({len(runs)} runs on 2 cores, from "
            f"{runs['train_time_s'].min() / 60:.0f} to {runs['train_time_s'].max() / 60:.0f} min; a run beside other work "
            f"takes longer), so {losses} losses × {seeds} seeds take about {losses * seeds * minutes / 60:.1f} h one after "
            "another, scoring not included.")


def car_section(car: Path, unet_pick: str) -> tuple:
    "The car's network's verdict (both splits, intervals over seeds and images) and what agrees with unet_mini's. -> (lines, (loss, why))"
    table = read_table(car)
    val, new = table.set_index("loss"), unseen_stats(table)
    pick, why = car_choice(val, new)
    n_seeds = int(val["n_seeds"].max())
    runs = len(pd.read_csv(car / "runs.csv"))                 # the runs in the table (a newer seed's may be training)
    lines = [f"## The car's network ({network_name(car)}) on CamVid, {n_seeds} seed{'s' if n_seeds > 1 else ''} per loss", "",
             f"Made by `{written_by(car)}` (`results/{car.name}/`, {runs} runs).", ""]
    if n_seeds == 1:
        lines += ["With 1 seed the intervals are over images only: the seed's own spread is not in them yet "
                  "(the three-seed comparison resumes with `--seeds 0,1,2`).", ""]
    elif n_seeds < 3:
        lines += [f"With {n_seeds} seeds the intervals resample seeds and images, but {n_seeds} seeds measure the seed's "
                  "spread only roughly (the three-seed comparison resumes with `--seeds 0,1,2`).", ""]
    lines += [verdict_summary({"val": val} if new is None else {"val": val, "the unseen streets": new}), ""]
    lines += [budget_note(pd.read_csv(car / "runs.csv")), ""]
    same = "the same loss" if pick == unet_pick else f"different losses: `{pick}` here, `{unet_pick}` on unet_mini"
    lines += [f"**The two networks' choices:** {same}."]
    if new is not None:
        u = unseen_stats(read_table(car.parent / "camvid"))
        vc, vu = verdicts(new), verdicts(u)
        both = [l for l in vc.index if l in vu.index]
        agree = [l for l in both if (vc[l] == "worse") == (vu[l] == "worse")]
        differ = [f"{l} ({vu[l]} on unet_mini, {vc[l]} here)" for l in both if l not in agree]
        lines[-1] += (f" On the unseen streets the verdicts (best or tied against worse) agree for {', '.join(agree) or 'no loss'}"
                      + (f" and differ for {', '.join(differ)}." if differ else "."))
    return lines + [""], (pick, why)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=str(REPO / "results"), help="the results folder (default: the repository's)")
    args = ap.parse_args(argv)
    results = Path(args.results)
    camvid, demo, car = results / "camvid", results / "demo", results / "camvid_car"
    table = read_table(camvid)
    val, new = table.set_index("loss"), unseen_stats(table)
    synthetic = read_table(demo).set_index("loss")
    n_seeds = int(val["n_seeds"].max())
    pick, why = car_choice(val, new)
    car_part, car_pick = car_section(car, pick) if (car / "results.csv").exists() else ([], None)
    lines = ["<!-- Written by `python benchmarks/conclusion.py` from results/camvid, the car's comparison camvid_car (when there), "
             "results/demo and results/camvid_best: do not edit. -->", "# Which loss should the car's vision use?", "",
             "**The car's loss** is the one with the highest mIoU on the unseen streets; "
             "when several are tied there, the one among them with the highest val mIoU. The rule is applied to each "
             "network's own comparison: the original `unet_mini` (the question the project was set) and the network the "
             "car runs.", ""]
    if car_pick: lines += [f"**Chosen for the car's network: `{car_pick[0]}`** ({car_pick[1]}). "
                           f"On `unet_mini` the rule chooses `{pick}` ({why}).", ""]
    else: lines += [f"**Chosen: `{pick}`** ({why}).", ""]
    lines += car_part
    lines += [f"## unet_mini on CamVid, {n_seeds} seed{'s' if n_seeds > 1 else ''} per loss", "",
             f"Made by `{written_by(camvid)}` (`results/camvid/`).", ""]
    tables = {"val": val} if new is None else {"val": val, "the unseen streets": new}
    lines += [verdict_summary(tables) if new is not None else conclusion(val, split="val"), ""]
    winners = section(camvid, "Which loss wins which category")
    if winners: lines += ["### Which loss wins which category", "", re.sub(r"^### ", "#### ", winners, flags=re.M), ""]
    lines += ["## The original notebook's answer", "",
              f"The original Projet 8 notebook chose the Total loss (`{ORIGINAL_ANSWER}`). On CamVid val it "
              f"{holds(val, ORIGINAL_ANSWER)}" + ("" if new is None else
              f"; on the unseen streets it {holds(new, ORIGINAL_ANSWER)}") + ".", "",
              "## The synthetic streets", "",
              f"Made by `{written_by(demo)}` (`results/demo/`). {conclusion(synthetic, split='the synthetic val', rule=False)}",
              "", "Synthetic streets prove the machinery; the choice of loss is made on real photographs.", ""]
    best = results / "camvid_best" / "scores.json"
    if best.exists():
        s = json.loads(best.read_text())
        fig = lambda d: f"{d['miou']:.3f} ({d['ci'][0]:.3f}–{d['ci'][1]:.3f})"
        twin = s.get("twin", {})
        lines += ["## The committed model", "", f"`results/camvid_best/` (written by `{s.get('written_by', '?')}`; trained on "
                  f"the full training split by `{s.get('command', '?')}`), mIoU with 95% intervals over images at full "
                  f"resolution: Keras val {fig(s['keras_val'])}; int8 val {fig(s['int8_val'])}."]
        if twin:
            groups = ", ".join(twin["unseen_groups"])
            lines += ["", f"It trained on every street of the training split; on a street it never saw, its recipe with "
                      f"{groups} held out (`{twin['command']}`) scores {fig(twin['unseen'])} on {groups} (val {fig(twin['val'])})."]
        trained = re.search(r"--loss (\w+)", s.get("command", ""))
        chosen = car_pick[0] if car_pick else pick
        if trained and trained.group(1) != chosen:
            lines += ["", f"It was trained with `{trained.group(1)}`, not with the loss chosen above (`{chosen}`)."]
        lines += [""]
    (results / "conclusion.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {results.name}/conclusion.md (chosen: {car_pick[0] + ' on the car' + chr(39) + 's network, ' if car_pick else ''}"
          f"{pick} on unet_mini)")


if __name__ == "__main__":
    main()
