"""Is the input pipeline the bottleneck? Train steps/s fed by `p8seg.data.make_dataset` vs tensors in memory.

Same model (`unet_mini`), same loss and optimizer, same number of steps; the only difference is where
the batches come from:

- **memory**: batches taken from the pipeline once, stacked into tensors, replayed with
  `Dataset.from_tensor_slices(...).repeat()` (no decoding, no augmentation, nothing to wait for);
- **pipeline**: `make_dataset(..., augment=True, epochs=...)` with the uint8 cache already warm:
  the resumable stream of epochs that `p8seg train` feeds to `fit` (epoch boundaries included).

Both sides feed uint8 category masks (the loss one-hots them inside the training step), as
training does.

Rounds alternate memory / pipeline so that load from other processes hits both alike. The ratio
(pipeline time / memory time for the same steps) should be <= 1.15. Also printed: the tf.data settings
found in the pipeline's graph (parallel calls, prefetch, cache, ...) and the pipeline's own throughput
without a model (if that is well above the training rate, a high ratio means CPU contention between
the pipeline and the model, not a slow pipeline).

    python benchmarks/bench_pipeline.py                        # 128x256, batch 8, 5 steps x 6 rounds
    python benchmarks/bench_pipeline.py --size 256 512 --steps 50 --root /data/cityscapes
    python benchmarks/bench_pipeline.py --out results/bench/bench_pipeline.txt   # also writes the report, its command on top
"""
import argparse, json, math, os, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
from report import Report  # noqa: E402  (benchmarks/, the script's folder)
import numpy as np
import tensorflow as tf


# scalar inputs of tf.data ops, named by position (after the input dataset / from the end)
_LEADING = {"ShuffleDatasetV3": ["buffer_size"], "ShuffleDatasetV2": ["buffer_size"], "PrefetchDataset": ["buffer_size"],
            "BatchDatasetV2": ["batch_size", "drop_remainder"], "ParallelBatchDataset": ["batch_size", "num_parallel_calls"]}
_TRAILING = {"ParallelMapDatasetV2": ["num_parallel_calls"], "ParallelMapDataset": ["num_parallel_calls"],
             "MapAndBatchDataset": ["batch_size", "num_parallel_calls", "drop_remainder"],
             "ParallelInterleaveDatasetV4": ["cycle_length", "block_length", "buffer_output_elements",
                                             "buffer_prefetch_elements", "num_parallel_calls"]}


def pipeline_settings(ds):
    "The tf.data transformations of `ds` (input side first) and their settings, read from the dataset's graph."
    from tensorflow.core.framework import graph_pb2
    graph = graph_pb2.GraphDef()
    graph.ParseFromString(tf.raw_ops.DatasetToGraphV2(input_dataset=ds._variant_tensor).numpy())
    consts = {}
    for node in graph.node:
        if node.op == "Const":
            t = node.attr["value"].tensor
            if t.int64_val: consts[node.name] = "AUTOTUNE" if t.int64_val[0] == -1 else int(t.int64_val[0])
            elif t.bool_val: consts[node.name] = bool(t.bool_val[0])
    settings = []
    for node in graph.node:
        if "Dataset" not in node.op: continue
        inputs = [i.split(":")[0] for i in node.input if not i.startswith("^")]
        args = {}
        if node.op in _LEADING: args = dict(zip(_LEADING[node.op], (consts.get(i) for i in inputs[1:])))
        elif node.op in _TRAILING:
            names = _TRAILING[node.op]
            args = dict(zip(names, (consts.get(i) for i in inputs[-len(names):])))
        if "deterministic" in node.attr and node.attr["deterministic"].s:
            args["deterministic"] = node.attr["deterministic"].s.decode()
        settings.append((node.op, args))
    options = ds.options()
    opts = {"private_threadpool_size": options.threading.private_threadpool_size,
            "autotune": options.autotune.enabled, "deterministic": options.deterministic}
    return settings, opts


def time_fit(model, ds, steps):
    "Wall and CPU (this process, all threads) seconds of `steps` training steps of `model.fit` on `ds`."
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None, help="dataset root (default: p8seg.data.default_data_root())")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=int, nargs=2, default=(128, 256), metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round and source")
    parser.add_argument("--rounds", type=int, default=6, help="alternating memory/pipeline rounds")
    parser.add_argument("--memory-batches", type=int, default=4, help="distinct batches kept in memory")
    parser.add_argument("--cache-dir", default=None, help="uint8 cache folder (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--out", default=None, help="also write the report to this file (its first line: the command)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    say = Report()

    from p8seg.data import make_dataset, load_split, steps_per_epoch

    from p8seg.synth import default_data_root
    from p8seg.models import unet_mini
    try:
        from p8seg.losses import get_loss
        loss = get_loss("dice")
    except ImportError: loss = tf.keras.losses.CategoricalCrossentropy()

    root = Path(args.root) if args.root else default_data_root()
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="p8seg_bench_cache_")
    size = tuple(args.size)
    tf.keras.utils.set_random_seed(0)
    t0 = time.perf_counter(); n_images = len(load_split(root, args.split, size, cache_dir=cache_dir)[1])   # builds the uint8 cache
    warm_s = time.perf_counter() - t0
    batches_needed = 2 * (3 + args.steps * args.rounds) + max(2 * args.steps, args.memory_batches, 10) + 1
    epochs = math.ceil(batches_needed / steps_per_epoch(n_images, args.batch_size)) + 1
    ds = make_dataset(root, args.split, img_size=size, batch_size=args.batch_size, augment=True, shuffle=True, seed=0,
                      cache_dir=cache_dir, epochs=epochs)       # the training stream: one iterator over all epochs
    settings, options = pipeline_settings(ds)

    # the pipeline alone: batches/s with no model
    it = iter(ds); next(it)
    t0, c0 = time.perf_counter(), time.process_time()
    batches = [next(it) for _ in range(max(2 * args.steps, args.memory_batches, 10))]
    pipeline_only = len(batches) / (time.perf_counter() - t0)
    pipeline_cpu_per_batch = (time.process_time() - c0) / len(batches)
    x = tf.stack([b[0] for b in batches[:args.memory_batches]])
    y = tf.stack([b[1] for b in batches[:args.memory_batches]])
    memory = tf.data.Dataset.from_tensor_slices((x, y)).repeat()

    model = unet_mini(input_size=(*size, 3))
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss=loss)
    time_fit(model, memory, 3); time_fit(model, ds, 3)   # trace the train function, start the pipeline once
    rounds = []
    for _ in range(args.rounds):
        (mw, mc), (pw, pc) = time_fit(model, memory, args.steps), time_fit(model, ds, args.steps)
        rounds.append({"memory_s": mw, "pipeline_s": pw, "memory_cpu_s": mc, "pipeline_cpu_s": pc})
    total = {k: sum(r[k] for r in rounds) for k in rounds[0]}
    n = args.steps * args.rounds
    round_ratios = [round(r["pipeline_s"] / r["memory_s"], 3) for r in rounds]
    result = {
        "image_size": size, "batch_size": args.batch_size, "steps": n, "rounds": args.rounds,
        "cache_build_s": round(warm_s, 2), "stream_epochs": epochs, "split_images": n_images,
        "memory_steps_per_s": round(n / total["memory_s"], 3), "pipeline_steps_per_s": round(n / total["pipeline_s"], 3),
        "pipeline_only_batches_per_s": round(pipeline_only, 3),
        "pipeline_cpu_s_per_batch": round(pipeline_cpu_per_batch, 4),
        "train_cpu_s_per_step": round(total["memory_cpu_s"] / n, 4),
        "ratio": round(total["pipeline_s"] / total["memory_s"], 3),
        "median_round_ratio": float(np.median(round_ratios)),
        "cpu_time_ratio": round(total["pipeline_cpu_s"] / total["memory_cpu_s"], 3),
        "round_ratios": round_ratios,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "cpu_count": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU")),
        "tf_data_options": options, "tf_data_ops": settings,
    }
    say(f"image {size[0]}x{size[1]}, batch {args.batch_size}, {n} steps per source in {args.rounds} rounds, "
        f"{result['cpu_count']} CPUs, {result['gpus']} GPUs; the {args.split} split's {n_images} images, "
        f"augment=True, a stream of {epochs} epochs")
    say("tf.data settings of make_dataset (graph, input side first):")
    for op, kw in settings: say(f"  {op:32s} {kw}")
    say(f"  options: {options}")
    say(f"pipeline alone (no model): {pipeline_only:.2f} batches/s, {pipeline_cpu_per_batch:.3f} CPU s per batch "
        f"(training: {result['train_cpu_s_per_step']:.3f} CPU s per step)")
    say(f"train steps/s  memory: {result['memory_steps_per_s']:.3f}   pipeline: {result['pipeline_steps_per_s']:.3f}")
    verdict = "OK" if result["ratio"] <= 1.15 else "MISSED (goal <= 1.15)"
    say(f"ratio pipeline/memory wall time: {result['ratio']:.3f} {verdict}  (median of rounds "
        f"{result['median_round_ratio']:.3f}, rounds {round_ratios}; CPU-time ratio {result['cpu_time_ratio']:.3f}; "
        f"load average {' '.join(f'{x:.2f}' for x in result['load_average'] or ())})")
    if result["ratio"] > 1.15 and pipeline_only > 3 * result["memory_steps_per_s"]:
        say("the pipeline alone is much faster than training: the extra time is CPU contention "
            "(pipeline and model share the CPU) or load from other processes, not a starved model")
    if args.json: Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    if args.out: say.write(args.out, "benchmarks/bench_pipeline.py", argv)
    return result


if __name__ == "__main__":
    main()
