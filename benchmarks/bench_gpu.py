"""GPU benchmark: training images/s of `unet_mini` fed the original notebook's way vs by `p8seg.data.make_dataset`.

    python benchmarks/bench_gpu.py                   # on a GPU: 256x256, batch 16, full-size files (< 5 min)
    python benchmarks/bench_gpu.py --tiny            # any machine: tiny sizes, runs every code path (CI)
    python benchmarks/bench_gpu.py --force-cpu       # the full setting on the CPU (GPUs hidden; slow)

Without a GPU (and without `--tiny` / `--force-cpu`) it prints "no GPU found: ..." and exits 0,
before making any data.

Same model (`p8seg.models.unet_mini`), loss (`get_loss("total")`), optimizer (Adam, 1e-4) and batch
size on both sides; a fresh seeded model for each measurement. The sources:

* **original**: the seed notebook's Keras `Sequence` (`benchmarks/original_loader.py`): every step
  decodes 16 full-size (1024x2048) PNG photos and masks with OpenCV, resizes, remaps with a Python
  loop and one-hots with NumPy, passed to `model.fit` with Keras' defaults (as the seed did);
* **make_dataset**: `make_dataset(root, "train", img_size, batch_size, cache_dir=<temp>).repeat()`
  on the same files; its uint8 cache is built once before timing (that one-off cost is printed and
  added to the projection).

Neither side augments. Rates are images per second of training steps, measured between the end of
the warm-up steps (tracing, first batches; excluded) and the end of the last step, from
`on_train_batch_end` (which waits for each step). Printed: (a) both rates and their ratio in float32,
(b) the same with the model built under the `mixed_float16` policy, (c) the projected wall time of
the 5-loss x 10-epoch comparison at 256x256 on Cityscapes' 2,975 training images (training steps
only, no validation) against the original notebook's 4,700 s per loss, (d) GPU utilisation (nvidia-smi, GPU 0)
during the timed make_dataset steps, and during the original's for contrast.
"""
from __future__ import annotations
import argparse, math, os, shutil, subprocess, sys, tempfile, threading, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "benchmarks"):
    if str(_p) not in sys.path: sys.path.insert(0, str(_p))

ORIGINAL_S_PER_LOSS = 4700      # the original notebook's measured wall time per loss (10 epochs, 256x256, batch 16)
CITYSCAPES_TRAIN = 2975         # Cityscapes fine training images
N_LOSSES, N_EPOCHS = 5, 10

SETTINGS = {  # files: (h, w) of the synthetic "full-size" PNGs; n_files: a multiple of batch
    "full": dict(files=(1024, 2048), img_size=(256, 256), batch=16, n_files=48, warmup=2,
                 steps_original=15, steps_dataset=150),
    "tiny": dict(files=(64, 128), img_size=(16, 16), batch=4, n_files=8, warmup=1,   # 16x16: float16 is emulated on a CPU
                 steps_original=2, steps_dataset=3),
}


# ---------------------------------------------------------------- GPU utilisation
class GpuSampler:
    "Samples `nvidia-smi --query-gpu=utilization.gpu` (GPU 0) in a thread every `interval` s."
    def __init__(self, interval=0.2):
        self.cmd, self.interval, self.samples, self.error = shutil.which("nvidia-smi"), interval, [], None
        if self.cmd is None: self.error = "nvidia-smi not found"
        self._stop = threading.Event()

    def _read(self):
        out = subprocess.run([self.cmd, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5)
        if out.returncode != 0: raise RuntimeError((out.stderr or out.stdout).strip() or f"exit {out.returncode}")
        return float(out.stdout.split()[0])

    def _run(self):
        while not self._stop.is_set():
            try: self.samples.append((time.perf_counter(), self._read()))
            except Exception as e:  # noqa: BLE001  (unreadable: say why, stop sampling)
                self.error = f"nvidia-smi failed: {e}"; return
            self._stop.wait(self.interval)

    def __enter__(self):
        if self.cmd: self._thread = threading.Thread(target=self._run, daemon=True); self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.cmd: self._thread.join(timeout=10)

    def summary(self, t0, t1) -> str:
        "Mean and max utilisation of the samples taken in [t0, t1], or why it cannot be read."
        vals = [u for t, u in self.samples if t0 <= t <= t1]
        if not vals: return f"not readable ({self.error or 'no sample in the timed window'})"
        return f"mean {sum(vals) / len(vals):.0f}%, max {max(vals):.0f}% ({len(vals)} samples)"


# ---------------------------------------------------------------- timing
def make_model(img_size, mixed_precision: bool):
    "A fresh seeded `unet_mini` compiled with the `total` loss and Adam; built under mixed_float16 if asked."
    import tensorflow as tf
    from p8seg.models import unet_mini
    from p8seg.losses import get_loss
    old = tf.keras.mixed_precision.global_policy()
    if mixed_precision: tf.keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        tf.keras.utils.set_random_seed(0)
        model = unet_mini(input_size=(*img_size, 3))
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-4), loss=get_loss("total"))
    finally:
        tf.keras.mixed_precision.set_global_policy(old)
    return model


def time_training(model, data, batch, warmup, steps):
    "Train `warmup + steps` (or more, whole epochs of a Sequence) steps; images/s after warm-up and the timed window."
    import tensorflow as tf

    class StepTimes(tf.keras.callbacks.Callback):
        def __init__(self): super().__init__(); self.times = []
        def on_train_batch_end(self, batch, logs=None): self.times.append(time.perf_counter())

    cb = StepTimes()
    if isinstance(data, tf.keras.utils.Sequence):  # the original notebook's way: whole epochs of the Sequence, Keras defaults
        epochs = math.ceil((warmup + steps) / len(data))
        model.fit(data, epochs=epochs, callbacks=[cb], verbose=0)
    else:
        model.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[cb], verbose=0)
    t = cb.times
    timed = len(t) - warmup
    return dict(images_per_s=timed * batch / (t[-1] - t[warmup - 1]), steps=timed, window=(t[warmup - 1], t[-1]))


# ---------------------------------------------------------------- main
def gpu_names(force_cpu: bool):
    "Names of the GPUs TensorFlow sees (none when `force_cpu`, which hides them before TensorFlow loads)."
    if force_cpu: os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
    import tensorflow as tf
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true",
                    help="64x128 files, 16x16 input, batch 4, a few steps: runs every code path on any machine")
    ap.add_argument("--force-cpu", action="store_true", help="run on the CPU (GPUs hidden) instead of exiting")
    ap.add_argument("--root", type=Path, default=None,
                    help="folder of the synthetic full-size set (default benchmarks/_data/full_n<N>, reused; "
                         "--tiny: a temporary folder)")
    ap.add_argument("--steps-original", type=int, default=None, help="timed steps fed by the original notebook's Sequence")
    ap.add_argument("--steps-dataset", type=int, default=None, help="timed steps fed by make_dataset")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    cfg = dict(SETTINGS["tiny" if args.tiny else "full"])
    if args.steps_original: cfg["steps_original"] = args.steps_original
    if args.steps_dataset: cfg["steps_dataset"] = args.steps_dataset

    gpus = gpu_names(args.force_cpu)
    if not gpus and not (args.tiny or args.force_cpu):
        print("no GPU found: TensorFlow sees no GPU on this machine, nothing measured "
              "(run on a GPU machine; --tiny runs a tiny CPU version, --force-cpu the full one on the CPU)")
        return 0
    import tensorflow as tf
    from p8seg.data import make_dataset
    from p8seg.sources import load_file_paths
    from bench_data import ensure_data
    from original_loader import DataGenerator

    h, w = cfg["img_size"]; bs = cfg["batch"]
    device = ", ".join(gpus) if gpus else "CPU (no GPU" + (", hidden by --force-cpu)" if args.force_cpu else ")")
    print(f"device: {device}; TensorFlow {tf.__version__}; {os.cpu_count()} CPUs; "
          f"setting {'tiny' if args.tiny else 'full'}: files {cfg['files'][0]}x{cfg['files'][1]}, "
          f"input {h}x{w}, batch {bs}, warm-up {cfg['warmup']} steps excluded")
    tmp = Path(tempfile.mkdtemp(prefix="p8seg_bench_gpu_"))
    try:
        root = args.root or (tmp / "data" if args.tiny else REPO / "benchmarks" / "_data" / f"full_n{cfg['n_files']}")
        ensure_data(Path(root).expanduser().resolve(), cfg["n_files"], size=cfg["files"])
        image_paths, mask_paths = load_file_paths(root, "train")
        for p in image_paths + mask_paths: p.read_bytes()   # both sides start from the page cache

        t0 = time.perf_counter()
        make_dataset(root, "train", img_size=(h, w), batch_size=bs, cache_dir=tmp / "cache")  # builds the uint8 cache
        t_cache = time.perf_counter() - t0
        print(f"make_dataset's uint8 cache of {len(image_paths)} images built in {t_cache:.2f} s "
              "(once per data set and size; not in the rates)")

        results = {}
        with GpuSampler() as sampler:
            for mp in (False, True):
                seq = DataGenerator(image_paths, mask_paths, batch_size=bs, img_size=(h, w), seed=0)
                results[mp, "original"] = time_training(make_model((h, w), mp), seq, bs, cfg["warmup"],
                                                        cfg["steps_original"])
                ds = make_dataset(root, "train", img_size=(h, w), batch_size=bs, cache_dir=tmp / "cache",
                                  drop_remainder=True).repeat()
                results[mp, "dataset"] = time_training(make_model((h, w), mp), ds, bs, cfg["warmup"],
                                                       cfg["steps_dataset"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    note = "" if gpus else " (on the CPU float16 brings no speed-up: these figures only exercise the code path)"
    print(f"\ntraining images/s, unet_mini {h}x{w}, batch {bs}, loss total, Adam:")
    print(f"{'':22}{'original Sequence':>18}{'make_dataset':>14}{'ratio':>9}")
    for mp, label in ((False, "float32"), (True, "mixed_float16")):
        o, d = results[mp, "original"], results[mp, "dataset"]
        print(f"{label:22}{o['images_per_s']:>14.1f} i/s{d['images_per_s']:>10.1f} i/s"
              f"{d['images_per_s'] / o['images_per_s']:>8.2f}x   "
              f"({o['steps']} and {d['steps']} timed steps){note if mp else ''}")
    print(f"ratio make_dataset / original: float32 "
          f"{results[False, 'dataset']['images_per_s'] / results[False, 'original']['images_per_s']:.2f}x, "
          f"mixed precision {results[True, 'dataset']['images_per_s'] / results[True, 'original']['images_per_s']:.2f}x")
    mp_speedup = results[True, "dataset"]["images_per_s"] / results[False, "dataset"]["images_per_s"]
    print(f"mixed precision / float32 with make_dataset: {mp_speedup:.2f}x{note}")

    # (c) projection: training steps only, at the measured rates; make_dataset adds its cache build once
    per_epoch = CITYSCAPES_TRAIN
    cache_full = t_cache / len(image_paths) * CITYSCAPES_TRAIN
    def per_loss(rate): return N_EPOCHS * per_epoch / rate
    lines = []
    for mp, label in ((False, "float32"), (True, "mixed_float16")):
        d, o = per_loss(results[mp, "dataset"]["images_per_s"]), per_loss(results[mp, "original"]["images_per_s"])
        total = N_LOSSES * d + cache_full
        lines.append(f"  {label}: make_dataset {d:.0f} s per loss ({ORIGINAL_S_PER_LOSS / d:.1f}x faster than the "
                     f"original {ORIGINAL_S_PER_LOSS} s), {total / 60:.1f} min for all {N_LOSSES} losses "
                     f"(incl. the cache, {cache_full:.0f} s once); the original Sequence here: {o:.0f} s per loss")
    tiny_note = " [tiny setting: not a real projection; run the full setting on a GPU]" if args.tiny else ""
    print(f"\nprojection: {N_LOSSES} losses x {N_EPOCHS} epochs x {CITYSCAPES_TRAIN} images at {h}x{w}, "
          f"training steps only (no validation), vs the original {ORIGINAL_S_PER_LOSS} s per loss{tiny_note}:")
    for line in lines: print(line)

    # (d) GPU utilisation in the timed windows
    print(f"\nGPU utilisation during the make_dataset run (float32): "
          f"{sampler.summary(*results[False, 'dataset']['window'])}; mixed precision: "
          f"{sampler.summary(*results[True, 'dataset']['window'])}; "
          f"original Sequence (float32) for contrast: {sampler.summary(*results[False, 'original']['window'])}")
    total_s = time.perf_counter() - t_start
    print(f"total wall time {total_s:.0f} s" + ("" if args.tiny or total_s < 300 else " (over the 5-minute goal)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
