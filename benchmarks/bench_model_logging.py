"""What logging a run's model as an MLflow Model costs, per training run, next to the bare `.keras` artifact it replaced.

    python benchmarks/bench_model_logging.py                        # the tests' unet_mini at 64x128, and 256x512
    python benchmarks/bench_model_logging.py --model results/camvid_best/model.keras --repeats 5

For each model, in one process and one local sqlite store (the default store of a run), alternately:
`mlflow.log_artifact(model.keras, "model")` (what a run logged before), and
`p8seg.tracking.log_model(model.keras)` (the MLflow Model: copy into the model folder, MLmodel,
signature, the 8x16 input example, requirements, and MLflow's check that the logged model loads and
predicts its input example), each in its own run. The first of each is a warm-up and not counted.
Prints the median seconds of both and the difference: the time model logging adds to a run.
"""
import argparse, statistics, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", help="saved .keras model(s) (default: untrained unet_mini at 64x128 and 256x512)")
    p.add_argument("--repeats", type=int, default=4, help="timed runs of each kind per model (default 4)")
    return p.parse_args(argv)


def timed_runs(fn, repeats: int) -> list:
    "Seconds of `fn()` inside a fresh MLflow run, `repeats` times after one warm-up."
    import mlflow
    times = []
    for i in range(repeats + 1):
        with mlflow.start_run():
            start = time.perf_counter(); fn(); seconds = time.perf_counter() - start
        if i: times.append(seconds)
    return times


def main(argv=None):
    args = parse_args(argv)
    import logging
    import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
    import tensorflow as tf
    import mlflow
    from p8seg.config import TrainConfig
    from p8seg.models import unet_mini
    from p8seg.tracking import setup_mlflow, log_model
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="p8seg-bench-logging-"))
    setup_mlflow(TrainConfig(out=str(tmp / "out"), experiment="bench-model-logging"))
    models = [Path(m) for m in args.model or []]
    if not models:
        for h, w in ((64, 128), (256, 512)):
            tf.keras.utils.set_random_seed(0)
            (tmp / f"{h}x{w}").mkdir(); unet_mini(input_size=(h, w, 3)).save(tmp / f"{h}x{w}" / "model.keras")
            models.append(tmp / f"{h}x{w}" / "model.keras")
    print(f"{'model':<40} {'MB':>5} {'bare .keras s':>14} {'MLflow Model s':>15} {'added s':>8}")
    for path in models:
        bare = statistics.median(timed_runs(lambda: mlflow.log_artifact(str(path), artifact_path="model"), args.repeats))
        model = statistics.median(timed_runs(lambda: log_model(path), args.repeats))
        name = str(path.relative_to(tmp)) if path.is_relative_to(tmp) else str(path)
        print(f"{name:<40} {path.stat().st_size / 2**20:>5.1f} {bare:>14.3f} {model:>15.3f} {model - bare:>8.3f}")


if __name__ == "__main__":
    main()
