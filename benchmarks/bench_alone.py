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


def timing_parser(description, turns):
    "The options of a script that times int8 files in blocks taking turns (`turns`: what takes turns), before its own."
    from p8seg.config import positive_int
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--arch", default="fpn_lite/efficientnet_lite0", help="ARCH or ARCH/BACKBONE (default: the car's network)")
    p.add_argument("--sizes", default="384x480,512x1024", help="comma-separated sizes HxW (padded up to the network's divisor)")
    p.add_argument("--blocks", type=positive_int, default=10, help=f"turns of the {turns}")
    p.add_argument("--frames", type=positive_int, default=10, help="timed int8 frames of each in a block")
    p.add_argument("--warmup", type=int, default=5, help="untimed frames of each first")
    p.add_argument("--threads", type=positive_int, default=2, help="CPU threads of TensorFlow and LiteRT")
    p.add_argument("--out", help="also write the table(s) as markdown to this file")
    return p


def check_timing_args(p, args):
    "`timing_parser`'s options checked (one line each, exit 2) and --sizes parsed; `args` returned."
    from p8seg.config import ARCHS, parse_img_size
    if args.arch.split("/")[0] not in ARCHS: p.error(f"unknown arch {args.arch!r}; choose from {', '.join(ARCHS)}")
    try: args.sizes = [parse_img_size(s.strip()) for s in args.sizes.split(",") if s.strip()]
    except ValueError as e: p.error(str(e))
    if not args.sizes: p.error("--sizes is empty")
    if args.warmup < 0: p.error("--warmup must be >= 0")
    return args


def parse_args(argv=None):
    p = timing_parser(__doc__.split("\n")[0], "three modes")
    return check_timing_args(p, p.parse_args(argv))


def timing_rows(size, times, base) -> list:
    "Table rows (size, name, median ms, min ms, fps, median over `base`'s median) of the seconds `times[name]`."
    rows, base_s = [], float(np.median(times[base]))
    for name, t in times.items():
        ms = np.array(t) * 1e3
        rows.append([f"{size[0]}x{size[1]}", name, f"{np.median(ms):.2f}", f"{ms.min():.2f}",
                     f"{1e3 / np.median(ms):.1f}", f"{np.median(t) / base_s:.2f}x"])
    return rows


def text_table(columns, rows) -> list:
    "The table as aligned text lines (the first two columns left-aligned)."
    table = [columns] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    return ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in table]


def markdown(columns, rows) -> list:
    "The table as markdown lines (the first two columns text, the others right-aligned)."
    return ["| " + " | ".join(columns) + " |", "|---|---|" + "---:|" * (len(columns) - 2),
            *["| " + " | ".join(r) + " |" for r in rows]]


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
        rows += timing_rows(size, time_modes(runners, args.blocks, args.frames), "alone")
    _, warnings, on_machine = watch.done()
    header = (f"{args.arch}, untrained, int8 through LiteRT, batch of 1, threads={args.threads}, {args.blocks} blocks x "
              f"{args.frames} frames per mode after {args.warmup} warm-up, {on_machine}")
    columns = ["size", "int8 frame timed", "median ms", "min ms", "fps", "median / alone"]
    print("\n".join([header, *warnings, "", *text_table(columns, rows)]))
    if args.out:
        md = [f"Written by `{command}`", "", header, *warnings, "", *markdown(columns, rows), "",
              "alone: int8 frames one after another (as the car runs one interpreter); after LiteRT: rounds of TFLite "
              "float32, float16, int8; after all: bench_deploy.py's rounds of Keras, float32, float16, int8. int8 is "
              "timed in each; the modes take turns block by block."]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
