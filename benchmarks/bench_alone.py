"""The car's int8 frame timed alone (one interpreter, frame after frame, as the car runs it) and in bench_deploy's
interleaved rounds, side by side in one run.

    python benchmarks/bench_alone.py        # fpn_lite/efficientnet_lite0 at 384x480 and 512x1024, 10 blocks of 10 frames
    python benchmarks/bench_alone.py --arch lraspp/efficientnet_lite0 --sizes 384x480 --out alone.md
    python benchmarks/bench_alone.py --sizes 32x64 --blocks 2 --frames 2 --warmup 1   # tiny

`bench_deploy.py` times its variants in interleaved rounds (one frame through Keras, then TFLite float32, float16
and int8, then the next round) so that a load spike from other processes hits every variant alike. Its int8 frame
then runs right after TensorFlow's and two other interpreters' frames, each with its own thread pool and weights. The car
runs one interpreter. This script times the same int8 model three ways on the same untrained network
(`bench_deploy.variant_runners`):

- alone: int8 frames one after another;
- after LiteRT: rounds of float32, float16, int8 (int8 timed);
- after all: bench_deploy's rounds of Keras, float32, float16, int8 (int8 timed).

The modes take turns in blocks (`--blocks` blocks of `--frames` frames each), so that a drift of the machine reaches
each mode alike. Printed: each mode's median and min ms, fps and its median over the alone median; the header
records the machine as bench_deploy does (a WARNING line when busy or niced: then a warning, not a result).
"""
import argparse, shlex, sys, tempfile, time
from pathlib import Path

import p8seg  # noqa: F401  (Keras 2 environment before TensorFlow)
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_deploy import Watch, padded_size, set_threads, variant_runners   # noqa: E402

MODES = {"alone": ("tflite int8",),
         "after LiteRT": ("tflite fp32", "tflite fp16", "tflite int8"),
         "after all (bench_deploy)": ("keras", "tflite fp32", "tflite fp16", "tflite int8")}


def time_mode(runners, order, frames) -> list:
    "Seconds of the int8 frame in each of `frames` rounds through the variants `order` (every variant runs, int8 is timed)."
    out = []
    for _ in range(frames):
        for variant in order:
            start = time.perf_counter(); runners[variant](); took = time.perf_counter() - start
            if variant == "tflite int8": out.append(took)
    return out


def time_modes(runners, blocks, frames) -> dict:
    "Each mode's int8 seconds, the modes taking turns block by block."
    times = {m: [] for m in MODES}
    for _ in range(blocks):
        for mode, order in MODES.items(): times[mode] += time_mode(runners, order, frames)
    return times


def parse_args(argv=None):
    from p8seg.config import ARCHS, parse_img_size, positive_int
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="fpn_lite/efficientnet_lite0", help="ARCH or ARCH/BACKBONE (default: the car's network)")
    p.add_argument("--sizes", default="384x480,512x1024", help="comma-separated sizes HxW (padded up to the network's divisor)")
    p.add_argument("--blocks", type=positive_int, default=10, help="turns of the three modes")
    p.add_argument("--frames", type=positive_int, default=10, help="timed int8 frames of each mode in a block")
    p.add_argument("--warmup", type=int, default=5, help="untimed frames of every variant first")
    p.add_argument("--threads", type=positive_int, default=2, help="CPU threads of TensorFlow and LiteRT")
    p.add_argument("--out", help="also write the table as markdown to this file")
    args = p.parse_args(argv)
    if args.arch.split("/")[0] not in ARCHS: p.error(f"unknown arch {args.arch!r}; choose from {', '.join(ARCHS)}")
    try: args.sizes = [parse_img_size(s.strip()) for s in args.sizes.split(",") if s.strip()]
    except ValueError as e: p.error(str(e))
    if not args.sizes: p.error("--sizes is empty")
    if args.warmup < 0: p.error("--warmup must be >= 0")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench_alone.py", *argv])
    set_threads(args.threads)
    from p8seg.config import INPUT_DIVISOR
    watch = Watch()
    tmp, rows = Path(tempfile.mkdtemp(prefix="bench_alone_")), []
    for asked in args.sizes:
        size = padded_size(asked, INPUT_DIVISOR[args.arch.split("/")[0]])
        print(f"... {args.arch} {size[0]}x{size[1]}", file=sys.stderr, flush=True)
        _, _, runners = variant_runners(args.arch, size, args.threads, 8, tmp)
        for _ in range(args.warmup):
            for run in runners.values(): run()
        times = time_modes(runners, args.blocks, args.frames)
        alone = float(np.median(times["alone"]))
        for mode, t in times.items():
            ms = np.array(t) * 1e3
            rows.append([f"{size[0]}x{size[1]}", mode, f"{np.median(ms):.2f}", f"{ms.min():.2f}",
                         f"{1e3 / np.median(ms):.1f}", f"{np.median(t) / alone:.2f}x"])
    _, warnings, on_machine = watch.done()
    header = (f"{args.arch}, untrained, int8 through LiteRT, batch of 1, threads={args.threads}, {args.blocks} blocks x "
              f"{args.frames} frames per mode after {args.warmup} warm-up, {on_machine}")
    columns = ["size", "int8 frame timed", "median ms", "min ms", "fps", "median / alone"]
    table = [columns] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    print("\n".join([header, *warnings, "", *("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                                                          enumerate(zip(r, widths))) for r in table)]))
    if args.out:
        md = [f"Written by `{command}`", "", header, *warnings, "",
              "| " + " | ".join(columns) + " |", "|---|---|" + "---:|" * (len(columns) - 2),
              *["| " + " | ".join(r) + " |" for r in rows], "",
              "alone: int8 frames one after another (as the car runs one interpreter); after LiteRT: rounds of TFLite "
              "float32, float16, int8; after all: bench_deploy.py's rounds of Keras, float32, float16, int8. int8 is "
              "timed in each; the modes take turns block by block."]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
