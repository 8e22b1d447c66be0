"""Input-pipeline benchmark: the original Projet 8 notebook's per-batch loading against `p8seg.data.make_dataset`.

    python benchmarks/bench_data.py [--n 96] [--batch-size 16] [--size 256 256] [--warm-epochs 7] [--out FILE]

`--out FILE` also writes the report to FILE, the command that wrote it on its first line
(`results/bench/bench_data.txt` is `--n 96 --out results/bench/bench_data.txt`).

Not a test: it prints absolute times and ratios measured side by side in one run, on the same
files and the same machine.

* Data: a synthetic Cityscapes set at the real resolution, 1024x2048, made by
  `p8seg.synth.make_synthetic_cityscapes` under `benchmarks/_data/` (gitignored) and reused.
* Seed baseline, reproduced (`benchmarks/original_loader.py`): for every batch, for every sample, decode the full-resolution image
  and labelIds PNGs with OpenCV, resize to the training size, remap labelIds with a Python loop
  over the ids (`for id, cat in class_to_group.items(): out[mask == id] = cat`), one-hot to
  float32 with NumPy; one core (the process is pinned to one CPU and OpenCV to one thread).
  It has no cache, so every epoch costs the same.
* p8seg: `make_dataset(root, "train", img_size, batch_size, cache_dir=<fresh temp dir>)`,
  all cores. Epoch 1 includes building the uint8 cache from the same PNGs; later epochs read
  the warm cache. Both sides yield the same number of batches and are iterated fully. Each
  side yields the masks the way its training takes them: the original float32 one-hot
  (B, h, w, 8); p8seg uint8 categories (B, h, w), which its losses one-hot on the device
  inside the training step. The warm epoch with `one_hot=True` (the one-hot built on the CPU,
  in the pipeline) is timed too, interleaved with the default, for comparison. Beside the wall
  time, the CPU time of the warm epoch (all threads; the seed's is its best epoch's): another
  process's load inflates it less than wall time.
* Epoch 1 is measured `--repeats` times per side, interleaved, and the best of each side is
  compared (a shared machine's load only ever adds time); warm epochs by their median.
* Remap alone: `p8seg.labels.remap_mask` (lookup table) against the Python loop on full
  1024x2048 masks, passes interleaved (loop, LUT, loop, ...), median per mask of each side.

Goals: epoch 1 >= 1.5x, warm epoch >= 50x and >= 1,500 images/s, LUT >= 20x.
"""
from __future__ import annotations
import argparse, math, os, shutil, statistics, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "benchmarks"):
    if str(_p) not in sys.path: sys.path.insert(0, str(_p))

import p8seg  # noqa: F401  (Keras 2 environment before anything loads TensorFlow)
import cv2
import numpy as np
from p8seg.labels import class_to_group, remap_mask, N_CATEGORIES, LABEL_TO_CATEGORY_LUT
from report import Report  # noqa: E402  (benchmarks/report.py)

FULL_SIZE = (1024, 2048)  # (height, width) of Cityscapes frames


# ---------------------------------------------------------------- data
def shown(path: Path) -> str:
    "`path` relative to the repository when it lies inside it (reports hold no absolute path of this machine)."
    try: return str(Path(path).resolve().relative_to(REPO))
    except ValueError: return Path(path).name

def ensure_data(root: Path, n: int, seed: int = 0, size=FULL_SIZE) -> Path:
    "Make (or reuse) a synthetic set with `n` train images of `size` (default full resolution) under `root`."
    from p8seg.synth import make_synthetic_cityscapes
    from p8seg.sources import load_file_paths
    try:
        images, masks = load_file_paths(root, "train")
        if len(images) == n and cv2.imread(str(masks[0]), cv2.IMREAD_UNCHANGED).shape == tuple(size):
            print(f"data: reusing {n} train images at {size[0]}x{size[1]} in {shown(root)}")
            return root
    except Exception:
        pass
    if root.exists(): shutil.rmtree(root)
    t0 = time.perf_counter()
    make_synthetic_cityscapes(root, n_train=n, n_val=0, n_test=0, size=tuple(size), seed=seed)
    print(f"data: generated {n} train images at {size[0]}x{size[1]} in {shown(root)} "
          f"({time.perf_counter() - t0:.1f} s, not part of any timing)")
    return root


def file_pairs(root: Path):
    from p8seg.sources import load_file_paths
    return load_file_paths(root, "train")


# ---------------------------------------------------------------- the original notebook's way (benchmarks/original_loader.py)
from original_loader import remap_loop, load_batch as seed_batch  # noqa: E402


def run_seed_epoch(image_paths, mask_paths, img_size, batch_size):
    "Time one seed epoch; also return per-category pixel totals (counted outside the timing)."
    n_batches = math.ceil(len(image_paths) / batch_size)
    totals, elapsed, cpu = np.zeros(N_CATEGORIES), 0.0, 0.0
    for b in range(n_batches):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        t0, c0 = time.perf_counter(), time.process_time()
        x, y = seed_batch(image_paths[sl], mask_paths[sl], img_size)
        elapsed += time.perf_counter() - t0; cpu += time.process_time() - c0
        totals += y.sum((0, 1, 2))
    return elapsed, cpu, n_batches, totals


# ---------------------------------------------------------------- p8seg
def iterate(ds):
    "Iterate a dataset fully; return (seconds, batches, images)."
    t0, n_batches, n_images = time.perf_counter(), 0, 0
    for x, y in ds:
        n_batches += 1; n_images += int(x.shape[0])
    return time.perf_counter() - t0, n_batches, n_images


def category_totals(ds):
    "Pixels per category over one epoch of uint8 category masks (or one-hot masks)."
    totals = np.zeros(N_CATEGORIES)
    for _, y in ds:
        y = y.numpy()
        totals += y.sum((0, 1, 2)) if y.ndim == 4 else np.bincount(y.ravel(), minlength=N_CATEGORIES)[:N_CATEGORIES]
    return totals


# ---------------------------------------------------------------- remap
def remap_cv2_lut(mask):
    "For reference only: the same table applied with OpenCV's LUT (uint8 masks)."
    return cv2.LUT(mask, LABEL_TO_CATEGORY_LUT)


def time_remap(mask_paths, repeats=9):
    "Seconds per full-res mask (median of `repeats` interleaved passes) for the loop, `remap_mask` and cv2.LUT."
    masks = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in mask_paths]
    for m in masks:
        np.testing.assert_array_equal(remap_mask(m), remap_loop(m))
        np.testing.assert_array_equal(remap_cv2_lut(m), remap_loop(m))
    sides = (remap_loop, remap_mask, remap_cv2_lut)
    times = {f: [] for f in sides}
    for _ in range(repeats):
        for f in sides:
            t0 = time.perf_counter()
            for m in masks: f(m)
            times[f].append((time.perf_counter() - t0) / len(masks))
    return (*(statistics.median(times[f]) for f in sides), masks[0].shape)


# ---------------------------------------------------------------- main
def seed_epoch_one_core(image_paths, mask_paths, img_size, batch_size):
    "The original notebook's epoch with this thread pinned to one CPU and OpenCV single-threaded."
    all_cpus, cv2_threads = os.sched_getaffinity(0), cv2.getNumThreads()
    os.sched_setaffinity(0, {min(all_cpus)}); cv2.setNumThreads(1)
    try: return run_seed_epoch(image_paths, mask_paths, img_size, batch_size)
    finally: os.sched_setaffinity(0, all_cpus); cv2.setNumThreads(cv2_threads)


def p8seg_epoch_one(root, img_size, batch_size):
    "make_dataset on a fresh cache dir + one full iteration; returns (s, build s, CPU s, batches, images, ds, cache_dir)."
    from p8seg.data import make_dataset
    cache_dir = Path(tempfile.mkdtemp(prefix="p8seg_bench_cache_"))
    t0, c0 = time.perf_counter(), time.process_time()
    ds = make_dataset(root, "train", img_size=img_size, batch_size=batch_size, cache_dir=cache_dir)
    t_build = time.perf_counter() - t0
    t_iter, n_batches, n_images = iterate(ds)
    return t_build + t_iter, t_build, time.process_time() - c0, n_batches, n_images, ds, cache_dir


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=48, help="train images at 1024x2048 (default 48)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"), help="training size")
    ap.add_argument("--repeats", type=int, default=3,
                    help="epoch-1 measurements per side, interleaved (seed, p8seg, seed, ...); the best is reported")
    ap.add_argument("--warm-epochs", type=int, default=7, help="epochs timed on the warm cache (median)")
    ap.add_argument("--remap-masks", type=int, default=4, help="full-res masks for the remap timing")
    ap.add_argument("--root", type=Path, default=None, help="data root (default benchmarks/_data/full_n<N>)")
    ap.add_argument("--out", type=Path, default=None, help="also write the report to this file (its first line: the command)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    say = Report()
    img_size, bs = tuple(args.size), args.batch_size
    root = (args.root or REPO / "benchmarks" / "_data" / f"full_n{args.n}").expanduser().resolve()

    n_cores = len(os.sched_getaffinity(0))
    say(f"cores: {n_cores} usable (os.cpu_count()={os.cpu_count()}), "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if os.getloadavg()[0] > 0.5 * n_cores:
        say(f"warning: the machine is busy (load {os.getloadavg()[0]:.1f} on {n_cores} cores): "
            "p8seg's parallel decoding cannot show its speed-up; rerun when it is idle")
    ensure_data(root, args.n)
    image_paths, mask_paths = file_pairs(root)

    # remap: LUT vs loop at full resolution
    t_loop, t_lut, t_cv2_lut, shape = time_remap(mask_paths[:args.remap_masks])

    # Same start for both sides: files in the OS page cache; TensorFlow's runtime and tf.data machinery
    # started (a once-per-process cost, whatever the input pipeline).
    for path in image_paths + mask_paths: path.read_bytes()
    import tensorflow as tf
    from p8seg.data import arrays_dataset
    t0 = time.perf_counter()
    for _ in arrays_dataset(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8), np.uint8), batch_size=2): pass
    t_tf_start = time.perf_counter() - t0

    # epoch 1: seed (one core, no cache) and p8seg (fresh cache, all cores), interleaved
    seed_runs, p8_runs, seed_totals, seed_batches = [], [], None, None
    for r in range(max(1, args.repeats)):
        t, cpu, seed_batches, seed_totals = seed_epoch_one_core(image_paths, mask_paths, img_size, bs)
        seed_runs.append((t, cpu))
        if p8_runs: shutil.rmtree(p8_runs[-1][-1], ignore_errors=True)
        p8_runs.append(p8seg_epoch_one(root, img_size, bs))
    t_seed, t_first = min(r[0] for r in seed_runs), min(run[0] for run in p8_runs)   # best of N, each side
    _, t_build, _, p8_batches, p8_images, ds, cache_dir = p8_runs[-1]
    try:
        from p8seg.data import make_dataset
        ds_one_hot = make_dataset(root, "train", img_size=img_size, batch_size=bs, cache_dir=cache_dir, one_hot=True)
        iterate(ds_one_hot)
        warm, warm_one_hot, warm_cpu, warm_one_hot_cpu = [], [], [], []
        for _ in range(max(1, args.warm_epochs)):     # interleaved: the default, then one_hot=True
            for times, cpus, d in ((warm, warm_cpu, ds), (warm_one_hot, warm_one_hot_cpu, ds_one_hot)):
                c0 = time.process_time(); times.append(iterate(d)[0]); cpus.append(time.process_time() - c0)
        t_warm, t_warm_one_hot = statistics.median(warm), statistics.median(warm_one_hot)
        c_warm, c_warm_one_hot = statistics.median(warm_cpu), statistics.median(warm_one_hot_cpu)
        t0 = time.perf_counter()
        ds_again = make_dataset(root, "train", img_size=img_size, batch_size=bs, cache_dir=cache_dir)
        t_rerun = time.perf_counter() - t0 + iterate(ds_again)[0]
        p8_totals = category_totals(ds)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    # sanity: same work on both sides
    assert p8_batches == seed_batches, f"batch counts differ: p8seg {p8_batches}, seed {seed_batches}"
    assert p8_images == len(image_paths), f"p8seg yielded {p8_images} images for {len(image_paths)} files"
    share_seed, share_p8 = seed_totals / seed_totals.sum(), p8_totals / p8_totals.sum()
    max_share_diff = float(np.abs(share_seed - share_p8).max())

    def ratio(a, b): return a / b if b > 0 else float("inf")
    def verdict(r, goal): return "ok" if r >= goal else "MISSED"
    r_first, r_warm, r_lut = ratio(t_seed, t_first), ratio(t_seed, t_warm), ratio(t_loop, t_lut)
    n = len(image_paths)
    say(); say(f"{n} images {FULL_SIZE[0]}x{FULL_SIZE[1]} -> {img_size[0]}x{img_size[1]}, batch {bs}, "
          f"{seed_batches} batches per epoch on both sides; category pixel shares agree within {max_share_diff:.4f}")
    say(f"{'':34}{'seed (1 core)':>15}{'p8seg':>12}{'ratio':>9}{'goal':>8}")
    say(f"{'epoch 1 (p8seg builds its cache)':34}{t_seed:>13.2f} s{t_first:>10.2f} s{r_first:>8.1f}x{'>=1.5x':>8} {verdict(r_first, 1.5)}")
    say(f"{'later epoch (warm cache)':34}{t_seed:>13.2f} s{t_warm:>10.3f} s{r_warm:>8.1f}x{'>=50x':>8} {verdict(r_warm, 50)}")
    say(f"{'  images/s of that epoch':34}{n / t_seed:>15.0f}{n / t_warm:>12.0f}{'':9}{'>=1500':>8} {verdict(n / t_warm, 1500)}")
    say(f"{'  CPU time of that epoch':34}{min(c for _, c in seed_runs):>13.2f} s{c_warm:>10.3f} s"
        f"{ratio(min(c for _, c in seed_runs), c_warm):>8.1f}x{'':8} ({n / c_warm:.0f} images per CPU second, all threads)")
    say(f"{'  the same, one_hot=True masks':34}{t_seed:>13.2f} s{t_warm_one_hot:>10.3f} s{ratio(t_seed, t_warm_one_hot):>8.1f}x"
        f"{'':8} ({n / t_warm_one_hot:.0f} images/s, {c_warm_one_hot:.3f} CPU s; the one-hot built on the CPU)")
    say(f"{'new run, cache on disk':34}{t_seed:>13.2f} s{t_rerun:>10.3f} s{ratio(t_seed, t_rerun):>8.1f}x")
    say(f"{f'remap one {shape[0]}x{shape[1]} mask':34}{t_loop*1e3:>12.1f} ms{t_lut*1e3:>9.2f} ms{r_lut:>8.1f}x{'>=20x':>8} {verdict(r_lut, 20)}")
    say(); say("epoch 1 runs, wall (CPU) s: seed " + ", ".join(f"{t:.2f} ({c:.2f})" for t, c in seed_runs)
        + "; p8seg " + ", ".join(f"{run[0]:.2f} ({run[2]:.2f}; make_dataset {run[1]:.2f})" for run in p8_runs)
        + " (best of each side above; CPU summed over threads: on idle cores p8seg's wall time nears its CPU time / cores)")
    say("p8seg warm epochs: " + ", ".join(f"{t*1e3:.0f}" for t in warm) + " ms; with one_hot=True: "
        + ", ".join(f"{t*1e3:.0f}" for t in warm_one_hot) + " ms (medians above)")
    say(f"remap: Python loop over the {len(class_to_group)} ids of class_to_group vs p8seg.labels.remap_mask, "
        f"median per mask over {min(args.remap_masks, n)} masks, passes interleaved; cv2.LUT with the same table: "
        f"{t_cv2_lut*1e3:.2f} ms ({ratio(t_loop, t_cv2_lut):.0f}x)")
    say(f"not timed on either side: reading the files into the page cache, TensorFlow import, its runtime and "
        f"first tf.data pipeline start ({t_tf_start:.2f} s), data generation")
    say(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(a shared machine's load inflates every figure, the 2-core side most)")
    if args.out: say.write(args.out, "benchmarks/bench_data.py", argv)
    return dict(first=r_first, warm=r_warm, lut=r_lut, images_per_s=n / t_warm)


if __name__ == "__main__":
    main()
