"""Single-image CPU latency: the Keras model vs its TFLite exports (float32, float16, int8), side by side.

    python benchmarks/bench_export.py                         # unet_mini 256x256, untrained weights
    python benchmarks/bench_export.py --model runs/x/model.keras --data DIR --runs 100

All variants are measured in the same process, interleaved (one image through each variant, then
the next round), so a load spike from other processes hits every variant alike. TensorFlow and the
LiteRT interpreter both get `--threads` CPU threads (default 2: the embedded target). Keras is timed
two ways: `predict_on_batch` (what `p8seg.evaluate.predict` uses) and a `tf.function`-compiled call
(the fastest Keras path); ratios are against the faster one. On a busy machine (load above the CPU
count) medians are dominated by waiting for a core; the `min` column and the CPU time per image
(`cpu ms`, all threads of the process) are then the steadier figures. Latency does not depend on the weights,
so an untrained model is fine; int8 is calibrated on `--data` train images if given, else on noise
(the calibration changes the ranges, not the amount of work).
"""
import argparse, os, sys, tempfile, time
from pathlib import Path

import p8seg  # noqa: F401  (Keras 2 environment before TensorFlow)
import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="saved Keras model (default: an untrained unet_mini)")
    p.add_argument("--arch", default="unet_mini", help="architecture when no --model is given")
    p.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"), help="input size without --model")
    p.add_argument("--data", help="dataset root for int8 calibration (default: noise)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=50, help="timed rounds (each runs every variant once)")
    p.add_argument("--warmup", type=int, default=5)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from p8seg.inference import load_model, model_input_size, TFLiteModel
    from p8seg.config import QUANTIZE_MODES
    from p8seg.export import tflite_bytes, calibration_images

    if args.model: model = load_model(args.model)
    else:
        from p8seg.models import build_model
        model = build_model(arch=args.arch, input_size=(*args.size, 3))
    size = model_input_size(model)
    rng = np.random.default_rng(0)
    calib = (calibration_images(args.data, 16) if args.data else
             [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(16)])

    tmp = Path(tempfile.mkdtemp(prefix="bench_export_"))
    keras_path = tmp / "model.keras"; model.save(keras_path)
    sizes = {"keras": keras_path.stat().st_size}
    runners = {}
    x = rng.random((1, *size, 3), dtype=np.float32)
    runners["keras predict_on_batch"] = lambda: model.predict_on_batch(x)
    compiled = tf.function(lambda t: model(t, training=False))
    x_tensor = tf.constant(x)
    runners["keras tf.function"] = lambda: compiled(x_tensor).numpy()
    convert_s = {}
    for mode in QUANTIZE_MODES:
        start = time.perf_counter()
        buffer = tflite_bytes(model, mode, calib if mode == "int8" else None)
        convert_s[mode] = time.perf_counter() - start
        path = tmp / f"model_{mode}.tflite"; path.write_bytes(buffer)
        name = f"tflite {'float32' if mode == 'none' else mode}"
        sizes[name] = path.stat().st_size
        lite = TFLiteModel(path, num_threads=args.threads)
        runners[name] = (lambda lite: lambda: lite.predict_on_batch(x))(lite)

    load_before = os.getloadavg()[0]
    for _ in range(args.warmup):
        for run in runners.values(): run()
    times = {name: [] for name in runners}
    cpu_times = {name: [] for name in runners}
    for _ in range(args.runs):
        for name, run in runners.items():
            cpu, start = time.process_time(), time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start); cpu_times[name].append(time.process_time() - cpu)

    keras_best = min(np.median(times["keras predict_on_batch"]), np.median(times["keras tf.function"]))
    print(f"model: {args.model or args.arch}, input {size[0]}x{size[1]}, {model.count_params():,} parameters, "
          f"threads={args.threads}, {args.runs} interleaved rounds, TF {tf.__version__}, "
          f"LiteRT {__import__('ai_edge_litert').__version__}, {os.cpu_count()} CPUs visible, "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    if max(load_before, os.getloadavg()[0]) > 0.5 * (os.cpu_count() or 1):
        print("warning: the machine is busy (load average above half the CPUs): absolute times are inflated; "
              "compare the min and cpu ms columns rather than medians")
    print(f"{'variant':<24}{'median ms':>10}{'min ms':>9}{'p90 ms':>9}{'cpu ms':>9}{'vs keras':>10}{'size MB':>9}")
    for name, ts in times.items():
        ms = np.array(ts) * 1e3
        size_name = "keras" if name.startswith("keras") else name
        print(f"{name:<24}{np.median(ms):>10.2f}{ms.min():>9.2f}{np.percentile(ms, 90):>9.2f}{np.median(cpu_times[name]) * 1e3:>9.1f}"
              f"{np.median(ts) / keras_best:>9.2f}x{sizes[size_name] / 1e6:>9.2f}")
    print("ratio = median latency / best Keras median (below 1 = faster than Keras); cpu ms = median CPU time of "
          "the process per image (all threads); "
          "conversion s: " + ", ".join(f"{m} {s:.1f}" for m, s in convert_s.items()))
    f32 = np.median(times["tflite float32"])
    verdict = "MET" if f32 <= keras_best else "NOT MET"
    print(f"goal 'TFLite float32 no slower than Keras': {verdict} ({f32 * 1e3:.2f} ms vs {keras_best * 1e3:.2f} ms)")
    return times, sizes


if __name__ == "__main__":
    main(sys.argv[1:])
