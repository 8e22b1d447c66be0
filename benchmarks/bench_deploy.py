"""Deployment latency of every architecture at every image size: Keras vs TFLite float32 / float16 / int8 on CPU.

    python benchmarks/bench_deploy.py --out results/deploy/latency.md   # 6 architectures x 3 sizes, 50 timed rounds (slow)
    python benchmarks/bench_deploy.py --archs unet_mini,lraspp_mobilenetv3 --sizes 256x512 --json rows.json
    python benchmarks/bench_deploy.py --runs 2 --warmup 1 --sizes 32x64 --archs unet_mini,lraspp_mobilenetv3  # tiny

For each architecture and size the model is built untrained (latency does not depend on the weights) at that
size; where the architecture's `INPUT_DIVISOR` refuses it (360x480 for a divisor of 16 or 32), the frame is taken
as padded up to the next accepted size (360x480 -> 368x480 for 16, 384x480 for 32: every camera pixel goes through
the network, the padding costs its share) and the table says so. Its four variants (Keras through a `tf.function`, and the
`p8seg.export.tflite_bytes` conversions to float32, float16 and int8, run by LiteRT through
`p8seg.inference.TFLiteModel`) are timed on one frame in interleaved rounds (one frame through each variant,
then the next round), so a load spike from other processes hits every variant alike; TensorFlow and LiteRT
both get `--threads` CPU threads (default 2: the embedded target). int8 is calibrated on noise images (the
calibration changes the ranges, not the amount of work). GFLOPs per frame come from TensorFlow's profiler on
the frozen Keras graph (2 FLOPs per multiply-add; ops it has no count for, such as resizes, count 0).
The header reports the load average (1 min) before and after, the CPU time other processes took during the run
(from /proc/stat: all CPUs' busy time less this process's own, over the wall time) and this process's niceness. The
machine counts as busy when other processes took more than a tenth of the CPUs on average (where /proc/stat is
missing: a load average above half the CPUs before or after; the load average itself is no test here, since this
run's own `--threads` threads raise it to about 2). A busy machine or a niceness above 0 gives a WARNING line: those
medians are inflated, a warning and not a result (ratios and the min column suffer least). `--json` writes the rows
and that record of the machine, its CPU named (for `benchmarks/frontier.py`).
"""
import argparse, json, os, shlex, sys, tempfile, time
from pathlib import Path

import p8seg  # noqa: F401  (Keras 2 environment before TensorFlow)
import numpy as np

DEFAULT_ARCHS = ("unet_mini", "unet_mini_nobn", "unet", "linknet", "lraspp_mobilenetv3", "lraspp_mobilenetv3_minimalistic")
DEFAULT_SIZES = ("96x128", "256x512", "360x480")
REALTIME_ARCHS = ("lraspp_mobilenetv3", "lraspp_mobilenetv3_minimalistic")  # the 30 fps goal's candidates
VARIANTS = ("keras", "tflite fp32", "tflite fp16", "tflite int8")
MODES = {"tflite fp32": "none", "tflite fp16": "float16", "tflite int8": "int8"}
COLUMNS = ("arch", "size", "variant", "median ms", "min ms", "fps", "MB", "speed-up vs keras", "size / fp32", "GFLOPs")


def parse_args(argv=None):
    from p8seg.config import ARCHS, parse_img_size, positive_int
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--archs", default=",".join(DEFAULT_ARCHS),
                   help=f"comma-separated architectures (of: {', '.join(ARCHS)}), each optionally ARCH/BACKBONE "
                        "(fpn_lite/efficientnet_lite2); unet and linknet default to mobilenetv2, fpn_lite and lraspp to efficientnet_lite0")
    p.add_argument("--sizes", default=",".join(DEFAULT_SIZES), help="comma-separated image sizes HxW")
    p.add_argument("--runs", type=positive_int, default=50, help="timed rounds (each runs every variant once)")
    p.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    p.add_argument("--threads", type=positive_int, default=2, help="CPU threads of TensorFlow and LiteRT")
    p.add_argument("--calib", type=positive_int, default=8, help="noise images for int8 calibration")
    p.add_argument("--no-flops", action="store_true", help="skip the GFLOPs count")
    p.add_argument("--out", help="also write the table as markdown to this file")
    p.add_argument("--json", help="also write the rows as JSON to this file")
    args = p.parse_args(argv)
    args.archs = [a.strip().lower() for a in args.archs.split(",") if a.strip()]
    unknown = [a for a in args.archs if a.split("/")[0] not in ARCHS]
    if unknown or not args.archs: p.error(f"unknown arch(s) {unknown or args.archs}; choose from {', '.join(ARCHS)}")
    try: args.sizes = [parse_img_size(s.strip()) for s in args.sizes.split(",") if s.strip()]
    except ValueError as e: p.error(str(e))
    if not args.sizes: p.error("--sizes is empty")
    if args.warmup < 0: p.error("--warmup must be >= 0")
    return args


def cpu_busy_seconds():
    "Busy CPU seconds of all CPUs together since boot (/proc/stat: user .. steal), or None where there is no /proc/stat."
    try: fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError): return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def machine_state(cpus, load, niceness, others):
    """The machine's record and its WARNING lines: `load` the 1-min load average (before, after), `others` the CPUs
    other processes used on average during the run (None: unknown, then the load average decides)."""
    busy = others > 0.1 * cpus if others is not None else max(load) > 0.5 * cpus
    warnings = []
    if busy:
        why = (f"other processes used {others:.2f} CPUs on average during the run, more than a tenth of the {cpus}"
               if others is not None else f"load average above half the {cpus} CPUs")
        warnings.append(f"WARNING: the machine is busy ({why}): absolute times are inflated, a warning and not a "
                        "result (ratios and the min column suffer least)")
    if niceness > 0:
        warnings.append(f"WARNING: niceness {niceness} (above 0): other work ran first; the times are a warning and not a result")
    record = {"cpus": cpus, "load_before": load[0], "load_after": load[1], "others_cpus": others, "niceness": niceness,
              "busy": busy, "result": not busy and niceness <= 0}
    return record, warnings


class Watch:
    """The machine over a timed run: made before it, `done()` after. `done` gives the record (`machine_state`'s, with the
    CPU's name and SIMD level), its WARNING lines and the header's words on the machine."""
    def __init__(self):
        self.load, self.busy, self.own, self.start = os.getloadavg()[0], cpu_busy_seconds(), sum(os.times()[:2]), time.time()

    def done(self):
        from p8seg.train import cpu_kind
        load, busy, own, wall = os.getloadavg()[0], cpu_busy_seconds(), sum(os.times()[:2]), time.time() - self.start
        others = (None if self.busy is None or busy is None else
                  max(0.0, (busy - self.busy - (own - self.own)) / max(wall, 1e-9)))
        cpus, cpu = os.cpu_count() or 1, cpu_kind()  # the CPU the times belong to: another CPU kind runs at other speeds
        machine, warnings = machine_state(cpus, (self.load, load), os.nice(0), others)
        machine.update(cpu=cpu["cpu"], simd=cpu["simd"])
        text = (f"{cpus} CPUs visible ({cpu['cpu']}, {cpu['simd']}), load average (1 min) {self.load:.1f} -> {load:.1f}, "
                f"other processes {'unknown' if others is None else f'{others:.2f}'} CPUs, niceness {os.nice(0)}, {wall:.0f} s")
        return machine, warnings, text


def set_threads(threads):
    "TensorFlow imported with `threads` intra-op threads and one inter-op thread (LiteRT gets `threads` per interpreter)."
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def padded_size(size, divisor):
    "The smallest (height, width) at least `size` whose sides are multiples of `divisor` (the frame padded up)."
    up = lambda v: -(-int(v) // divisor) * divisor
    return up(size[0]), up(size[1])


def gflops(model, size):
    "Float operations of one frame through the frozen Keras graph (TensorFlow profiler), in GFLOPs."
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec([1, *size, 3], tf.float32))
    graph = convert_variables_to_constants_v2(fn).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # the v1 profiler's deprecation warnings
    try: info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options)
    finally: logger.setLevel(level)
    return info.total_float_ops / 1e9


def variant_runners(arch, size, threads, n_calib, tmp):
    """The untrained Keras model of `arch` at `size`, its file sizes on disk and one runner per variant (each runs one
    noise frame: Keras through a `tf.function`, the TFLite conversions through LiteRT with `threads` threads)."""
    import tensorflow as tf
    from p8seg.models import build_model
    from p8seg.export import tflite_bytes
    from p8seg.inference import TFLiteModel
    tf.keras.backend.clear_session()
    name, _, backbone = arch.partition("/")
    model = build_model(name, backbone=backbone or None, input_size=(*size, 3))
    rng = np.random.default_rng(0)
    calib = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n_calib)]
    x = rng.random((1, *size, 3), dtype=np.float32)
    keras_path = tmp / f"{arch.replace('/', '_')}_{size[0]}x{size[1]}.keras"
    model.save(keras_path)
    disk = {"keras": keras_path.stat().st_size}
    compiled = tf.function(lambda t: model(t, training=False))
    x_tensor = tf.constant(x)
    runners = {"keras": lambda: compiled(x_tensor).numpy()}
    for variant, mode in MODES.items():
        path = tmp / f"{arch.replace('/', '_')}_{size[0]}x{size[1]}_{mode}.tflite"
        path.write_bytes(tflite_bytes(model, mode, calib if mode == "int8" else None))
        disk[variant] = path.stat().st_size
        runners[variant] = (lambda lite: lambda: lite.predict_on_batch(x))(TFLiteModel(path, num_threads=threads))
    return model, disk, runners


def bench_one(arch, size, args, tmp):
    "Rows (one per variant) for one architecture at one size."
    model, disk, runners = variant_runners(arch, size, args.threads, args.calib, tmp)
    flops = None if args.no_flops else gflops(model, size)
    for _ in range(args.warmup):
        for run in runners.values(): run()
    times = {v: [] for v in runners}
    for _ in range(args.runs):
        for variant, run in runners.items():
            start = time.perf_counter(); run(); times[variant].append(time.perf_counter() - start)
    keras_median = np.median(times["keras"])
    rows = []
    for variant in VARIANTS:
        ms = np.array(times[variant]) * 1e3
        rows.append({"arch": arch, "size": size, "variant": variant, "median ms": float(np.median(ms)),
                     "min ms": float(ms.min()), "fps": 1e3 / float(np.median(ms)), "MB": disk[variant] / 1e6,
                     "speed-up vs keras": keras_median * 1e3 / float(np.median(ms)),
                     "size / fp32": disk[variant] / disk["tflite fp32"], "GFLOPs": flops,
                     "params": model.count_params()})
    return rows


def format_row(row, asked):
    size = f"{row['size'][0]}x{row['size'][1]}" + ("" if tuple(row["size"]) == tuple(asked) else f" ({asked[0]}x{asked[1]} padded)")
    flops = "-" if row["GFLOPs"] is None else f"{row['GFLOPs']:.3f}"
    return [row["arch"], size, row["variant"], f"{row['median ms']:.2f}", f"{row['min ms']:.2f}", f"{row['fps']:.1f}",
            f"{row['MB']:.2f}", f"{row['speed-up vs keras']:.2f}x", f"{row['size / fp32']:.2f}", flops]


def goals(rows, archs, sizes):
    "(goal, verdict, detail) for the deployment goals (int8 size, int8 speed-up, real-time fps)."
    int8 = [r for r in rows if r["variant"] == "tflite int8"]
    out = []
    worst = max(int8, key=lambda r: r["size / fp32"])
    out.append(("int8 file <= 1/3 of fp32", "MET" if worst["size / fp32"] <= 1 / 3 else "NOT MET",
                f"largest ratio {worst['size / fp32']:.3f} ({worst['arch']} {worst['size'][0]}x{worst['size'][1]})"))
    for arch in archs:
        mine = [r for r in int8 if r["arch"] == arch]
        slow = min(mine, key=lambda r: r["speed-up vs keras"])
        out.append((f"int8 >= 2x Keras at every size: {arch}", "MET" if slow["speed-up vs keras"] >= 2 else "NOT MET",
                    f"lowest {slow['speed-up vs keras']:.2f}x at {slow['size'][0]}x{slow['size'][1]}"))
    for arch in [a for a in REALTIME_ARCHS if a in archs] or REALTIME_ARCHS[:1]:
        target = [r for r in int8 if r["arch"] == arch and r["asked"] == (256, 512)]
        if target:
            fps = target[0]["fps"]
            out.append((f">= 30 fps at 256x512 int8: {arch}", "MET" if fps >= 30 else "NOT MET", f"{fps:.1f} fps"))
        else:
            out.append((f">= 30 fps at 256x512 int8: {arch}", "NOT MEASURED",
                        f"needs --archs with {arch} and --sizes with 256x512"))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench_deploy.py", *argv])
    tf = set_threads(args.threads)
    from p8seg.config import INPUT_DIVISOR
    watch, rows, notes = Watch(), [], []
    tmp = Path(tempfile.mkdtemp(prefix="bench_deploy_"))
    for arch in args.archs:
        for asked in args.sizes:
            size = padded_size(asked, INPUT_DIVISOR[arch.split("/")[0]])
            if size != tuple(asked):
                notes.append(f"{arch}: {asked[0]}x{asked[1]} is refused (H, W multiples of {INPUT_DIVISOR[arch.split('/')[0]]}): the frame "
                             f"padded to {size[0]}x{size[1]} is timed")
            print(f"... {arch} {size[0]}x{size[1]}", file=sys.stderr, flush=True)
            for row in bench_one(arch, size, args, tmp):
                row["asked"] = tuple(asked); rows.append(row)
    machine, warnings, on_machine = watch.done()
    header = (f"{len(args.archs)} architectures x {len(args.sizes)} sizes, untrained, batch of 1, threads={args.threads}, "
              f"{args.runs} timed interleaved rounds after {args.warmup} warm-up, TF {tf.__version__}, LiteRT "
              f"{__import__('ai_edge_litert').__version__}, {on_machine}")
    lines = [header, *warnings]
    table = [list(COLUMNS)] + [format_row(r, r["asked"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    text = [("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))) for row in table]
    params = {r["arch"]: r["params"] for r in rows}
    legend = ("speed-up vs keras = Keras median / variant median (above 1: faster than Keras); size / fp32 = file size "
              "over the TFLite float32 file; MB = file on disk (keras: the .keras file); fps = 1000 / median ms; "
              "parameters: " + ", ".join(f"{a} {n:,}" for a, n in params.items()))
    verdicts = [f"goal '{g}': {v} ({d})" for g, v, d in goals(rows, args.archs, args.sizes)]
    print("\n".join([*lines, "", *text, "", legend, *notes, *verdicts]))
    if args.out:
        md = [f"Written by `{command}`", "", *lines, "",
              "| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" if i < 3 else "---:" for i in range(len(COLUMNS))) + "|",
              *["| " + " | ".join(row) + " |" for row in table[1:]], "", legend, "",
              *[f"- {n}" for n in notes], *[f"- {v}" for v in verdicts]]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(md) + "\n")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"written_by": command, "header": lines, "machine": machine, "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
