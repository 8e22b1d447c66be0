"""Does each committed run of a comparison retrain to its figures? Every run of `results/<name>/runs/<loss>/seed<s>/`
is retrained from its own `run.json` by today's code, each in a fresh child process, and its figures are set beside
the committed ones:

    python benchmarks/retrain_check.py results/camvid --epochs 1   # the first epoch: history.csv's loss and mIoU, exactly
                                                                   # (the run's own schedule: stopped after 1 epoch, not shortened)
    python benchmarks/retrain_check.py results/camvid --epochs 0   # whole runs: val and unseen mIoU within 0.002

Writes `<folder>/retrain_check.md` (and `.json`: what a rerun skips; an interrupted check loses no finished run). The
data is `--data` (default: $P8SEG_CAMVID, else ../shared/data/camvid); the cache is the usual one (`P8SEG_CACHE`).
The threads are p8seg's (2 intra-op threads): the count the committed runs were trained with, recorded in the table,
and so is the CPU (its model and widest vector instructions): oneDNN picks its kernels by the instruction set, so a
record retrains to the last digit only on the CPU kind it was trained on (checks made before it was recorded: "not recorded").
"""
import argparse, csv, json, math, os, shlex, subprocess, sys, tempfile, time
from pathlib import Path

from p8seg.config import camvid_argument
from p8seg.files import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 0.002   # val and unseen mIoU of a whole run

# The child keeps the run's own `epochs` (a cosine schedule depends on it) and stops `fit` after the first `stop` epochs.
CHILD = """
import json, sys
import p8seg
import tensorflow as tf
from p8seg.config import TrainConfig
from p8seg.train import train
run_json, data, out, stop = sys.argv[1:5]
config = {**json.loads(open(run_json).read())["config"], "data": data, "out": out, "verbose": 0}

class StopAfter(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= int(stop): self.model.stop_training = True

fit = tf.keras.Model.fit
def fit_and_stop(self, *args, callbacks=None, **kwargs):
    return fit(self, *args, callbacks=[*(callbacks or []), StopAfter()], **kwargs)
if int(stop): tf.keras.Model.fit = fit_and_stop
r = train(TrainConfig(**config), mlflow_logging=False)
row = r.summary()
recorded = json.loads((r.run_dir / "run.json").read_text())["arithmetic"]
print(json.dumps({"loss": [float(v) for v in r.history["loss"]], "miou": [float(v) for v in r.history["miou"]],
                  "val_miou": row["miou"], "unseen_miou": row["unseen_miou"],
                  "threads": recorded["intra_op_threads"], "cpu": "{cpu} ({simd})".format(**recorded)}))
"""


def committed(run_dir: Path, epochs: int) -> dict:
    "The committed figures: history.csv's loss and mIoU at the epoch retrained, or result.json's val and unseen mIoU."
    history = list(csv.DictReader(open(run_dir / "history.csv")))
    row = json.loads((run_dir / "result.json").read_text())["row"]
    if epochs: return {"loss": float(history[epochs - 1]["loss"]), "miou": float(history[epochs - 1]["miou"])}
    return {"val_miou": row["miou"], "unseen_miou": row["unseen_miou"]}


def retrain(run_dir: Path, data, epochs: int) -> dict:
    "Retrain one run (its first `epochs` under its own schedule, or all of it with 0) in a child process; its figures and minutes."
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        r = subprocess.run([sys.executable, "-c", CHILD, str(run_dir / "run.json"), str(data), tmp, str(epochs)],
                           capture_output=True, text=True, cwd=REPO)
        if r.returncode != 0: raise SystemExit(f"retrain_check: {run_dir}: the retraining failed:\n{r.stderr[-3000:]}")
        out = json.loads(r.stdout.strip().splitlines()[-1])
    out["minutes"] = round((time.time() - start) / 60, 2)
    if epochs: out = {**out, "loss": out["loss"][-1], "miou": out["miou"][-1]}
    return out


def verdict(old: dict, new: dict, epochs: int) -> bool:
    "Equal to the last digit (first epochs) or within TOLERANCE (whole runs; a NaN unseen score must stay NaN)."
    if epochs: return old["loss"] == new["loss"] and old["miou"] == new["miou"]
    close = lambda a, b: (math.isnan(a) and math.isnan(b)) or abs(a - b) <= TOLERANCE
    return close(old["val_miou"], new["val_miou"]) and close(old["unseen_miou"], new["unseen_miou"])


def shown_path(folder: Path) -> str:
    "A folder as the report names it: relative to the repository, or its name alone (no machine path is written)."
    return str(folder.relative_to(REPO)) if folder.is_relative_to(REPO) else folder.name


def render(folder: Path, checks: dict, shown: dict) -> str:
    "The markdown report: per check (epochs), one row a run, committed beside retrained."
    lines = [f"<!-- Written by `python benchmarks/retrain_check.py {shown_path(folder)}` (each section names its `--epochs`): "
             "do not edit. -->", f"# Retraining check of `{shown_path(folder)}`", "",
             "Each committed run retrained from its own `run.json` by today's code, in a fresh process (p8seg's 2 "
             "intra-op threads) on the CPU of its row (oneDNN picks its kernels by the CPU's instruction set, so digits "
             "differ across CPUs at rounding level, and whole runs then drift). Each section names the command that wrote it."]
    for epochs in sorted(checks, key=int, reverse=True):
        runs = checks[epochs]
        n_ok = sum(r["equal"] for r in runs.values())
        lines += ["", f"## {'whole runs' if epochs == '0' else f'first {epochs} epoch(s)'}: {n_ok} of {len(runs)} "
                  f"{'within ' + str(TOLERANCE) if epochs == '0' else 'equal to the last digit'}", "",
                  f"    {shown[epochs]}", ""]
        if epochs == "0":
            lines += ["| run | val mIoU committed | retrained | unseen committed | retrained | within | threads | cpu | minutes |",
                      "|---|---|---|---|---|---|---|---|---|"]
            lines += [f"| {k} | {r['old']['val_miou']:.6f} | {r['new']['val_miou']:.6f} | {r['old']['unseen_miou']:.6f} | "
                      f"{r['new']['unseen_miou']:.6f} | {'yes' if r['equal'] else '**no**'} | {r['new']['threads']} | "
                      f"{r['new'].get('cpu', 'not recorded')} | {r['new']['minutes']} |" for k, r in sorted(runs.items())]
        else:
            lines += ["| run | loss committed | retrained | mIoU committed | retrained | equal | threads | cpu | minutes |",
                      "|---|---|---|---|---|---|---|---|---|"]
            lines += [f"| {k} | {r['old']['loss']!r} | {r['new']['loss']!r} | {r['old']['miou']!r} | {r['new']['miou']!r} | "
                      f"{'yes' if r['equal'] else '**no**'} | {r['new']['threads']} | "
                      f"{r['new'].get('cpu', 'not recorded')} | {r['new']['minutes']} |"
                      for k, r in sorted(runs.items())]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="a committed comparison, e.g. results/camvid")
    p.add_argument("--epochs", type=int, default=1, help="epochs retrained per run (0: whole runs)")
    p.add_argument("--data", default=camvid_argument(), help="the data the runs were trained on")
    p.add_argument("--only", default="", help="runs to check, e.g. dice/seed0,total/seed1 (default: all)")
    args = p.parse_args(argv)
    folder = Path(args.folder).resolve()
    runs = sorted(d for d in folder.glob("runs/*/seed*") if (d / "run.json").exists() and (d / "result.json").exists())
    if not runs: raise SystemExit(f"retrain_check: {args.folder}: no finished run (runs/<loss>/seed<s>/run.json and result.json)")
    only = {o.strip() for o in args.only.split(",") if o.strip()}
    store = folder / "retrain_check.json"
    saved = json.loads(store.read_text()) if store.exists() else {"checks": {}, "commands": {}}
    key = str(args.epochs)
    command = "python benchmarks/retrain_check.py " + " ".join(shlex.quote(a) for a in [shown_path(folder), "--epochs", key])
    checks = saved["checks"].setdefault(key, {})
    saved["commands"][key] = command
    for run_dir in runs:
        name = f"{run_dir.parent.name}/{run_dir.name}"
        if (only and name not in only) or name in checks: continue
        old = committed(run_dir, args.epochs)
        new = retrain(run_dir, args.data, args.epochs)
        checks[name] = {"old": old, "new": new, "equal": verdict(old, new, args.epochs)}
        print(f"retrain_check: {name}: {'equal' if checks[name]['equal'] else 'DIFFERS'} {old} -> {new}", flush=True)
        write_json_atomic(store, saved)
    (folder / "retrain_check.md").write_text(render(folder, saved["checks"], saved["commands"]))
    print(f"retrain_check: wrote {shown_path(folder)}/retrain_check.md")


if __name__ == "__main__":
    main()
