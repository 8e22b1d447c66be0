"""The car's int8 network with its last softmax in int8 (as `p8seg export --quantize int8` writes it) or in float32
(`--float-softmax`), timed side by side in one run; optionally both files scored against the Keras model.

    python benchmarks/bench_softmax.py          # fpn_lite/efficientnet_lite0 at 384x480 and 512x1024, untrained, timed
    python benchmarks/bench_softmax.py --model results/camvid_best/model.keras --data ../shared/data/camvid --sizes 384x480
    python benchmarks/bench_softmax.py --sizes 32x64 --blocks 2 --frames 2 --warmup 1   # tiny

The softmax over the 8 categories runs on the full-size output (8 x H x W values). In an all-int8 file it is an int8
op that XNNPACK leaves to TFLite's own kernel; `float_softmax` computes it in float32 from the dequantised logits, on
XNNPACK, every other op unchanged (`p8seg.export.tflite_bytes`). Both files are timed alone (one interpreter, frame
after frame, as the car runs one), the two taking turns in blocks so that a drift of the machine reaches both alike.
Printed: median and min ms, fps, and the median over the int8 file's. With `--model` the timed network is that trained
model (its own size; `--sizes` is then ignored) and the two files are also scored with `p8seg.evaluate` on `--data`'s
val split and, with `--unseen`, on those groups of its train split (frames the model never saw when it held them out).
"""
import shlex, sys, time
from pathlib import Path

import p8seg  # noqa: F401  (Keras 2 environment before TensorFlow)
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_deploy import Watch, padded_size, set_threads   # noqa: E402
from bench_alone import check_timing_args, markdown, text_table, timing_parser, timing_rows   # noqa: E402

FILES = ("int8", "int8, float softmax")


def int8_files(model, calib) -> dict:
    "The two flat buffers of `model`: all int8, and int8 with the softmax in float32."
    from p8seg.export import tflite_bytes
    return {name: tflite_bytes(model, "int8", calib, float_softmax=name != FILES[0]) for name in FILES}


def time_files(runners, blocks, frames) -> dict:
    "Seconds per frame of each file, the files taking turns block by block."
    times = {name: [] for name in runners}
    for _ in range(blocks):
        for name, run in runners.items():
            for _ in range(frames):
                start = time.perf_counter(); run(); times[name].append(time.perf_counter() - start)
    return times


def score(model, files, data, unseen, threads) -> list:
    "Rows (split, model, mIoU, gap to Keras) of the Keras model and both files on val and the unseen groups."
    from p8seg.evaluate import evaluate
    from p8seg.inference import TFLiteModel
    splits = {"val": ("val", None), **({f"unseen {','.join(unseen)}": ("train", tuple(unseen))} if unseen else {})}
    rows = []
    for label, (split, groups) in splits.items():
        keras = evaluate(model, data, split, groups=groups).miou
        rows.append([label, "keras", f"{keras:.4f}", ""])
        for name, b in files.items():
            miou = evaluate(TFLiteModel(b, threads), data, split, groups=groups).miou
            rows.append([label, name, f"{miou:.4f}", f"{miou - keras:+.4f}"])
    return rows


def parse_args(argv=None):
    from p8seg.config import positive_int
    p = timing_parser(__doc__.split("\n")[0], "two files")
    p.add_argument("--model", help="a trained .keras model: timed at its size and scored (needs --data)")
    p.add_argument("--data", help="data root scored with --model (val, and --unseen groups of train)")
    p.add_argument("--unseen", default="", help="comma-separated groups of the train split also scored (e.g. 0006R0)")
    p.add_argument("--calib", type=positive_int, default=16, help="calibration images (the data's train split with --data)")
    args = check_timing_args(p, p.parse_args(argv))
    if args.model and not args.data: p.error("--model needs --data (calibration and scoring)")
    if args.model and not Path(args.model).exists(): p.error(f"--model {args.model}: no such file")
    args.unseen = [g.strip() for g in args.unseen.split(",") if g.strip()]
    if args.unseen and not args.model: p.error("--unseen scores a model: give --model")
    return args


def networks(args):
    "(label, Keras model, size) of each network timed: the trained model, or the untrained arch at each size."
    from p8seg.config import INPUT_DIVISOR
    from p8seg.inference import load_model, model_input_size
    if args.model:
        model = load_model(args.model)
        yield f"{Path(args.model).as_posix()}, trained", model, model_input_size(model)
        return
    from p8seg.models import build_model
    name, _, backbone = args.arch.partition("/")
    for asked in args.sizes:
        size = padded_size(asked, INPUT_DIVISOR[name])
        yield f"{args.arch}, untrained", build_model(name, backbone=backbone or None, input_size=(*size, 3)), size


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench_softmax.py", *argv])
    set_threads(args.threads)
    from p8seg.export import calibration_images
    from p8seg.inference import TFLiteModel
    watch, rows, scores, labels = Watch(), [], [], set()
    for label, model, size in networks(args):
        print(f"... {label} {size[0]}x{size[1]}", file=sys.stderr, flush=True)
        rng = np.random.default_rng(0)
        calib = (calibration_images(args.data, args.calib) if args.data else
                 [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(args.calib)])
        files = int8_files(model, calib)
        x = rng.random((1, *size, 3), dtype=np.float32)
        runners = {name: (lambda lite: lambda: lite.predict_on_batch(x))(TFLiteModel(b, args.threads))
                   for name, b in files.items()}
        for _ in range(args.warmup):
            for run in runners.values(): run()
        rows += timing_rows(size, time_files(runners, args.blocks, args.frames), FILES[0])
        labels.add(label)
        if args.model: scores = score(model, files, args.data, args.unseen, args.threads)
    _, warnings, on_machine = watch.done()
    header = (f"{'; '.join(sorted(labels))}; LiteRT, batch of 1, threads={args.threads}, each file alone, {args.blocks} "
              f"blocks x {args.frames} frames per file after {args.warmup} warm-up, {on_machine}")
    columns = ["size", "file", "median ms", "min ms", "fps", "median / int8"]
    print("\n".join([header, *warnings, "", *text_table(columns, rows)]))
    score_columns = ["frames", "model", "mIoU", "minus Keras"]
    if scores: print("\n" + "\n".join("  ".join(r) for r in [score_columns] + scores))
    if args.out:
        md = [f"Written by `{command}`", "", header, *warnings, "", *markdown(columns, rows), ""]
        if scores: md += [f"mIoU (official rule, `p8seg.evaluate`) on {Path(args.data).name}:", "", *markdown(score_columns, scores), ""]
        md += ["int8: every op int8 (`p8seg export --quantize int8`); int8, float softmax: the same file but the last "
               "softmax, computed in float32 from the dequantised logits (`--float-softmax`)."]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
