"""BatchNorm statistics on real photographs: Keras' moving statistics against statistics re-estimated (PreciseBN).

    python benchmarks/bn_camvid.py [--data ../shared/data/camvid] [--unseen 0006R0] [--out results/bn_camvid.md]
    python benchmarks/bn_camvid.py --report-only     # rewrite the markdown from results/bn_camvid.json, no training

It trains the original `unet_mini` (BatchNorm after every ReLU) and `unet_mini_nobn` with the comparison's recipe
(loss `total`, 96x128, batch 8, Adam 1e-3, 12 epochs, seed 0, the `--unseen` street held out of training), then
scores with `p8seg.evaluate.evaluate` (full 360x480, official rule) on `val` and on the unseen street:
the BatchNorm network twice, with the moving statistics Keras kept during training and with statistics re-estimated by
`p8seg.models.reestimate_bn_stats` over the training frames (what `p8seg train` does before it scores or saves).

Data (`p8seg.data.load_split`, `p8seg.sources.split_by_groups`), batches (`p8seg.data.arrays_dataset`, the stream
`p8seg train` uses), models, loss and scoring are p8seg's; the one thing done here rather than by `p8seg.train.train`
is the fit itself, because `train` re-estimates the statistics before it returns the model, and the moving
statistics must be read first. The output compares the re-estimated row with the recipe `baseline` of `results/recipe/`
(`p8seg train`, same settings) and with the spread of `results/camvid/`'s seeds.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path: sys.path.insert(0, str(REPO))

import numpy as np
import pandas as pd
import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from p8seg.config import shown_path
from p8seg.data import load_split, arrays_dataset, steps_per_epoch
from p8seg.evaluate import evaluate
from p8seg.losses import get_loss
from p8seg.models import build_model, reestimate_bn_stats
from p8seg.sources import load_file_paths, split_by_groups
from p8seg.train import float_batches, set_seed, op_determinism

SIZE, BATCH, LR, EPOCHS, SEED = (96, 128), 8, 1e-3, 12, 0


def fit(arch, images, masks, epochs):
    "A model of `arch` trained with the recipe on uint8 arrays (seeded, op determinism on) -> (model, seconds/epoch)."
    tf.keras.backend.clear_session(); set_seed(SEED)
    model = build_model(arch, input_size=(*SIZE, 3))
    model.compile(optimizer=tf.keras.optimizers.Adam(LR), loss=get_loss("total"))
    ds = arrays_dataset(images, masks, batch_size=BATCH, seed=SEED, epochs=epochs)
    start = time.perf_counter()
    model.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch(len(images), BATCH), verbose=2)
    return model, (time.perf_counter() - start) / epochs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/camvid", help="CamVid root (default ../shared/data/camvid)")
    ap.add_argument("--unseen", default="0006R0", help="train groups held out and scored (default 0006R0)")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--out", default="results/bn_camvid.md", help="the markdown written (default results/bn_camvid.md)")
    ap.add_argument("--report-only", action="store_true", help="rewrite the markdown from the JSON beside it, no training")
    args = ap.parse_args(argv)
    if args.report_only: return write_report(Path(args.out).with_suffix(".json"), args.out)
    root, unseen = Path(args.data), tuple(g for g in args.unseen.split(",") if g)
    if not (root / "train").is_dir(): raise SystemExit(f"{args.data}: no CamVid train/ folder there")
    images, masks = load_split(root, "train", SIZE)
    keep = split_by_groups(load_file_paths(root, "train")[0], unseen, "CamVid train")[0] if unseen else np.arange(len(images))
    images, masks = np.asarray(images)[keep], np.asarray(masks)[keep]
    rows = []
    def score(name, model):
        val = evaluate(model, root, "val", batch_size=BATCH).scores["miou"]
        new = evaluate(model, root, "train", batch_size=BATCH, groups=unseen).scores["miou"] if unseen else float("nan")
        rows.append({"model / BatchNorm statistics": name, "val mIoU": val, "unseen mIoU": new})
        print(f"{name}: val {val:.4f}, unseen {new:.4f}", flush=True)
    with op_determinism():
        model, epoch_s = fit("unet_mini", images, masks, args.epochs)
        score("`unet_mini`, Keras' moving statistics (momentum 0.99)", model)
        start = time.perf_counter()
        reestimate_bn_stats(model, float_batches(images, batch_size=BATCH))
        bn_s = time.perf_counter() - start
        score(f"`unet_mini`, re-estimated (`reestimate_bn_stats`, the {len(images)} training frames)", model)
        nobn, _ = fit("unet_mini_nobn", images, masks, args.epochs)
        score("`unet_mini_nobn` (no BatchNorm)", nobn)
    json_path = Path(args.out).with_suffix(".json")
    json_path.write_text(json.dumps({"command": command_of(argv), "rows": rows, "frames": len(images), "unseen": list(unseen),
                                     "epochs": args.epochs, "data": shown_path(args.data), "bn_s": bn_s,
                                     "epoch_s": epoch_s}, indent=1))
    write_report(json_path, args.out)


def command_of(argv) -> str:
    return " ".join(["python benchmarks/bn_camvid.py", *(argv if argv is not None else sys.argv[1:])]).strip()


def write_report(json_path, out):
    "The markdown of a measurement stored in `json_path` (what `--report-only` rewrites)."
    m = json.loads(Path(json_path).read_text())
    table, unseen, command = pd.DataFrame(m["rows"]), m["unseen"], m["command"]
    moving, re, no_bn = table["val mIoU"]
    lines = [f"<!-- Written by `{command}`: do not edit. -->",
             f"CamVid train without {', '.join(unseen) or 'nothing'} ({m['frames']} frames) → val (101 frames) and the unseen "
             f"street; loss `total`, {SIZE[0]}x{SIZE[1]}, batch {BATCH}, Adam {LR:g}, {m['epochs']} epochs, seed {SEED}, the "
             f"model after the last epoch, scored at the full 360×480 (7-category mIoU, official rule); data "
             f"`{m['data']}`.", "",
             "| model / BatchNorm statistics | val mIoU (7) | unseen mIoU (7) |", "|---|---|---|"]
    lines += [f"| {r['model / BatchNorm statistics']} | {r['val mIoU']:.3f} | {r['unseen mIoU']:.3f} |" for _, r in table.iterrows()]
    lines += ["", f"Re-estimated statistics change val mIoU by {re - moving:+.3f} against Keras' moving statistics, for the "
              f"same weights; the BatchNorm network with re-estimated statistics is {re - no_bn:+.3f} from the BatchNorm-free "
              f"one. Re-estimation took {m['bn_s']:.0f} s, {m['bn_s'] / m['epoch_s']:.2f} of a training epoch "
              f"({m['epoch_s']:.0f} s) on this machine."]
    best = REPO / "results" / "recipe" / "baseline.json"
    if best.exists():
        b = json.loads(best.read_text())["val"]["miou"]
        lines += ["", f"The recipe `baseline` of `results/recipe/` (`p8seg train`, the same settings and the same stream) scored {b:.4f} on val; "
                  f"the re-estimated row here {re:.4f} ({'the same run' if abs(b - re) < 5e-5 else f'{re - b:+.4f}'})."]
    runs = REPO / "results" / "camvid" / "runs.csv"
    if runs.exists():
        r = pd.read_csv(runs); t = r[(r["loss"] == "total") & (r["status"] == "finished")]["miou"]
        if len(t):
            lines += ["", f"Trained from other starts by `p8seg compare` (`results/camvid/`, loss `total`, {len(t)} seeds), "
                      f"the same settings scored {t.min():.3f} to {t.max():.3f} on val: a single run's figure moves by "
                      "that much with the seed."]
    Path(out).write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
