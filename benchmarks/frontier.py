"""The accuracy-speed frontier on CamVid: each network trained by the committed recipe, its mIoU (val and the unseen
street; Keras and the int8 export) against its latency at 256x512 (TFLite float32 and int8, 2 threads).

    python benchmarks/frontier.py --data ../shared/data/camvid          # every network, in order; resumable
    python benchmarks/frontier.py --data ../shared/data/camvid --only unet_mini,lraspp_mobilenetv3_minimalistic
    python benchmarks/frontier.py --table                                # rewrite frontier.md/.csv/.png only

A thin caller of the library. Each network is one `p8seg train` command with the recipe `baseline` of
`results/recipe/` (loss total, 96x128, 12 epochs, batch 8, Adam 1e-3 constant, seed 0, sequence 0006R0 held out), run
as a child process, so the command in the table is exactly what ran; `unet_mini` reuses the model that
`benchmarks/recipe.py` trained for that recipe (`recipe_runs/baseline`, checked against its run.json) when it is
there, unless `--retrain-unet-mini`. The model is exported with
`p8seg.export.export_model` (what `p8seg export --format tflite --quantize int8` writes: the faithful graph, 16
calibration images of the training split) and both are scored with `p8seg.evaluate.evaluate` at CamVid's full
360x480 under the official rule, on `val` and on the unseen street. Latency is `benchmarks/bench_deploy.py` at
256x512 (run as a child process, models built at that size: the weights do not change the time), one run for all
the networks, so they are timed side by side.

One JSON per finished network goes to `<out>/frontier/<name>.json` (a rerun skips it when its command is the same),
the latency rows to `<out>/frontier/latency.json`, and the table to `<out>/frontier.md`, `frontier.csv` and the figure
`frontier.png` (mIoU against int8 latency). The last network departs from the recipe in one option (192x256
training frames for LR-ASPP, whose stride-16 features are 6x8 cells of a 96x128 frame); the table names it. Training folders go to `--work` (not committed); an interrupted training
resumes from its last epoch.
"""
import argparse, csv, json, os, resource, shlex, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEST = REPO / "recipe_runs" / "baseline" / "runs" / "total" / "seed0"   # benchmarks/recipe.py's baseline run
BEST_RECORD = REPO / "results" / "recipe" / "baseline.json"
RECIPE = ["--loss", "total", "--unseen", "0006R0", "--img-size", "96x128", "--batch-size", "8", "--lr", "0.001",
          "--seed", "0"]
EPOCHS = 12
# name -> (p8seg --arch, extra options), in the order they run
NETWORKS = {
    "unet_mini": ("unet_mini", []),
    "lraspp_mobilenetv3_minimalistic": ("lraspp_mobilenetv3_minimalistic", []),
    "unet_mini_nobn": ("unet_mini_nobn", []),
    "linknet_mobilenetv2": ("linknet", ["--backbone", "mobilenetv2"]),
    "lraspp_mobilenetv3": ("lraspp_mobilenetv3", []),
    # the one departure from the recipe: the stride-16 encoder sees 6x8 cells of a 96x128 frame; trained at 192x256
    "lraspp_mobilenetv3_minimalistic_192x256": ("lraspp_mobilenetv3_minimalistic", ["--img-size", "192x256"]),
}
REALTIME = ("lraspp_mobilenetv3", "lraspp_mobilenetv3_minimalistic")
SIZE = "256x512"
CATEGORIES = ["flat", "construction", "object", "nature", "sky", "human", "vehicle"]
COLUMNS = ("network", "params", "val keras", "val int8", "unseen keras", "unseen int8", "fp32 ms", "fp32 min ms",
           "fp32 fps", "int8 ms", "int8 min ms", "int8 fps", "int8 MB", "GFLOPs")


def command(name, data, work, epochs) -> list:
    "The `p8seg train` argv of a network (data and work folder as given: no machine path is recorded)."
    arch, extra = NETWORKS[name]
    recipe = [*RECIPE]
    for i in range(0, len(extra), 2):          # an option of `extra` replaces the recipe's value
        if extra[i] in recipe: j = recipe.index(extra[i]); recipe[j + 1] = extra[i + 1]
    extra = [a for i in range(0, len(extra), 2) if extra[i] not in RECIPE for a in extra[i:i + 2]]
    return ["p8seg", "train", "--data", str(data), *recipe, "--epochs", str(epochs), "--arch", arch, *extra,
            "--out", f"{work}/{name}", "--quiet"]


def reusable_best(epochs):
    "The run.json config of the recipe ablation's baseline run when it was trained by this recipe with unet_mini, else None."
    path = BEST / "run.json"
    if not path.exists() or not (BEST / "model.keras").exists() or not BEST_RECORD.exists(): return None
    c = json.loads(path.read_text())["config"]
    want = {"loss": "total", "unseen": ["0006R0"], "img_size": [96, 128], "batch_size": 8, "learning_rate": 0.001,
            "seed": 0, "epochs": epochs, "arch": "unet_mini", "augment": False, "lr_schedule": "constant",
            "class_weights": False}
    return c if all(c.get(k) == v for k, v in want.items()) else None


def score(model, data, groups):
    "val and unseen mIoU and per-category IoU at full resolution."
    from p8seg.evaluate import evaluate
    out = {}
    for split, (name, g) in {"val": ("val", None), "unseen": ("train", groups)}.items():
        ev = evaluate(model, data, name, groups=g)
        out[split] = {"miou": ev.miou, "images": len(ev.per_image),
                      "iou": {c: float(v) for c, v in zip(CATEGORIES, ev.scores["iou"][1:])}}
    return out


def run(name, args, results):
    "Train (or reuse, or resume) one network, export int8, score both, write its JSON; skip it when done."
    from p8seg.inference import load_model, TFLiteModel
    from p8seg.export import export_model
    argv = command(name, args.data, args.work, args.epochs)
    reuse = name == "unet_mini" and not args.retrain_unet_mini and reusable_best(args.epochs)
    shown = shlex.join(argv)
    if reuse: shown = f"{json.loads(BEST_RECORD.read_text())['command']} (reused: benchmarks/recipe.py's run)"
    path = results / f"{name}.json"
    if path.exists() and json.loads(path.read_text()).get("command") == shown:
        print(f"frontier {name}: done, skipped ({path.name})", flush=True); return
    print(f"frontier {name}: {shown}", flush=True)
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if reuse:
        model_path = BEST / "model.keras"
        config = reuse
    else:
        subprocess.run([sys.executable, "-c", "import sys; from p8seg.cli import main; sys.exit(main())", *argv[1:]],
                       cwd=REPO, check=True)
        run_dir = REPO / args.work / name / "runs" / "total" / "seed0"
        model_path = run_dir / "model.keras"
        config = json.loads((run_dir / "run.json").read_text())["config"]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = REPO / args.data if not Path(args.data).is_absolute() else Path(args.data)
    model = load_model(model_path)
    int8 = export_model(model, REPO / args.work / name / "model_int8.tflite", "tflite", "int8", data_root=data,
                        n_calib=args.n_calib)
    groups = tuple(config["unseen"])
    record = {"written_by": f"python benchmarks/frontier.py ({shown})", "name": name, "command": shown,
              "reused": bool(reuse), "config": config, "params": int(model.count_params()),
              "train_wall_min": None if reuse else (time.perf_counter() - start) / 60,
              "train_cpu_min": None if reuse else (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / 60,
              "int8_mb": int8.stat().st_size / 1e6, "n_calib": args.n_calib,
              "keras": score(model, data, groups), "int8": score(TFLiteModel(int8, num_threads=2), data, groups)}
    results.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp"); tmp.write_text(json.dumps(record, indent=1) + "\n"); os.replace(tmp, path)
    k, q = record["keras"], record["int8"]
    print(f"frontier {name}: val {k['val']['miou']:.3f} (int8 {q['val']['miou']:.3f}), unseen {k['unseen']['miou']:.3f} "
          f"(int8 {q['unseen']['miou']:.3f})", flush=True)


def latency(names, args, results):
    "bench_deploy at 256x512 for every network's architecture, in one run; skipped when its JSON has the same command."
    archs = list(dict.fromkeys(NETWORKS[n][0] for n in names))
    out = results / "latency.json"
    argv = ["benchmarks/bench_deploy.py", "--archs", ",".join(archs), "--sizes", SIZE, "--runs", str(args.runs),
            "--warmup", "5", "--json", str(out.relative_to(REPO)) if out.is_relative_to(REPO) else str(out)]
    shown = shlex.join(["python", *argv])
    if out.exists() and json.loads(out.read_text()).get("written_by") == shown:
        print(f"frontier latency: done, skipped ({out.name})", flush=True); return
    print(f"frontier latency: {shown}", flush=True)
    subprocess.run([sys.executable, *argv], cwd=REPO, check=True)


def rows_of(results):
    "One dict per network whose JSON is there, with its latency (None where not measured)."
    lat = json.loads((results / "latency.json").read_text()) if (results / "latency.json").exists() else {"rows": []}
    timed = {(r["arch"], r["variant"]): r for r in lat["rows"]}
    rows = []
    for name, (arch, _) in NETWORKS.items():
        if not (results / f"{name}.json").exists(): continue
        r = json.loads((results / f"{name}.json").read_text())
        fp32, int8 = timed.get((arch, "tflite fp32")), timed.get((arch, "tflite int8"))
        rows.append({"network": name, "params": r["params"], "val keras": r["keras"]["val"]["miou"],
                     "val int8": r["int8"]["val"]["miou"], "unseen keras": r["keras"]["unseen"]["miou"],
                     "unseen int8": r["int8"]["unseen"]["miou"],
                     "fp32 ms": fp32 and fp32["median ms"], "fp32 min ms": fp32 and fp32["min ms"],
                     "fp32 fps": fp32 and fp32["fps"], "int8 ms": int8 and int8["median ms"],
                     "int8 min ms": int8 and int8["min ms"], "int8 fps": int8 and int8["fps"], "int8 MB": r["int8_mb"],
                     "GFLOPs": int8 and int8["GFLOPs"], "command": r["command"], "record": r})
    return rows, lat


def figure(rows, path):
    "mIoU (val and unseen, int8 export) against int8 latency at 256x512, fp32 latency as the segment's other end."
    import matplotlib, matplotlib.ticker; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for r in rows:
        if r["int8 ms"] is None: continue
        for split, marker in (("val", "o"), ("unseen", "s")):
            y = r[f"{split} int8"]
            ax.plot([r["fp32 ms"], r["int8 ms"]], [r[f"{split} keras"], y], color="0.75", lw=1, zorder=1)
            ax.scatter([r["int8 ms"]], [y], marker=marker, s=40, zorder=2, color="C0" if split == "val" else "C1",
                       label=f"{split} (int8)" if r is rows[0] else None)
        ax.annotate(r["network"], (r["int8 ms"], r["val int8"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.axvline(1000 / 30, color="C3", ls="--", lw=1, label="30 fps")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([5, 10, 20, 50, 100, 200, 500, 1000]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(f"latency of one {SIZE} frame, ms (TFLite, 2 threads; grey segment: from fp32 to int8)")
    ax.set_ylabel("mIoU (7 categories, full 360x480)")
    ax.set_title("CamVid: accuracy against speed (table: frontier.md)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(results, out, shown):
    "frontier.md, frontier.csv and frontier.png from the JSON files present."
    rows, lat = rows_of(results)
    f = lambda x, d=3: "-" if x is None else f"{x:.{d}f}"
    cells = lambda r: [r["network"], f"{r['params']:,}", f(r["val keras"]), f(r["val int8"]), f(r["unseen keras"]),
                       f(r["unseen int8"]), f(r["fp32 ms"], 1), f(r["fp32 min ms"], 1), f(r["fp32 fps"], 1),
                       f(r["int8 ms"], 1), f(r["int8 min ms"], 1), f(r["int8 fps"], 1), f(r["int8 MB"], 2), f(r["GFLOPs"], 2)]
    missing = [n for n in NETWORKS if n not in {r["network"] for r in rows}]
    lines = [f"Written by `{shown}` from the JSON files in `frontier/`", "",
             "# The accuracy-speed frontier (CamVid, one recipe)", "",
             "Every network trained by the recipe `baseline` of `results/recipe/` (loss total, 96x128, 12 epochs, batch 8, "
             "Adam 1e-3 constant, seed 0, random initial weights; CamVid train without sequence 0006R0) and scored at the "
             "full 360x480 under the official rule (mIoU of 7 categories) on `val` (101 frames of 0016E5) and on "
             "`unseen` (the 101 frames of 0006R0, never trained on; the model runs at its training size and its "
             "prediction is resized to the labels), as Keras and as its int8 export (`p8seg export "
             "--quantize int8`, 16 calibration images of the training split). Latency: median ms of one "
             f"{SIZE} frame (and the fastest of the 50), TFLite through LiteRT with 2 threads (`benchmarks/bench_deploy.py`; "
             "fps = 1000 / median):", ""]
    departs = [f"{n} ({' '.join(NETWORKS[n][1])})" for n in NETWORKS if any(o in RECIPE for o in NETWORKS[n][1][::2])]
    if departs: lines[4] = lines[4].replace(" Latency:", " Departing from the recipe in the one option named: "
                                            + ", ".join(departs) + ". Latency:")
    lines += [f"> {h}" for h in lat.get("header", [])] + ["", "| " + " | ".join(COLUMNS) + " |",
              "|---" + "|---:" * (len(COLUMNS) - 1) + "|", *["| " + " | ".join(cells(r)) + " |" for r in rows], ""]
    if missing: lines += [f"Not finished (no JSON yet): {', '.join(missing)}.", ""]
    for r in rows:
        change = r["val int8"] - r["val keras"]
        lines.append(f"- {r['network']}: int8 - Keras on val {change:+.4f} "
                     f"({'within' if abs(change) <= 0.01 else 'OUTSIDE'} 0.01), on unseen "
                     f"{r['unseen int8'] - r['unseen keras']:+.4f}")
    ref = next((r for r in rows if r["network"] == "unet_mini"), None)
    for r in rows:
        if NETWORKS[r["network"]][0] in REALTIME and r["int8 fps"] is not None:
            gap = "" if ref is None else (f", unseen {r['unseen int8']:.3f} against unet_mini's {ref['unseen int8']:.3f} "
                                          f"(int8; {'within' if ref['unseen int8'] - r['unseen int8'] <= 0.03 else 'NOT within'} 0.03)")
            lines.append(f"- goal '>= 30 fps at {SIZE} int8, unseen within 0.03 of unet_mini': {r['network']} "
                         f"{r['int8 fps']:.1f} fps{gap}")
    lines += ["", "![mIoU against latency](frontier.png)", "", "The commands:", "",
              *[f"- {r['network']}: `{r['command']}`" for r in rows]]
    (out / "frontier.md").write_text("\n".join(lines) + "\n")
    with open(out / "frontier.csv", "w", newline="") as fh:
        fh.write(f"# Written by `{shown}`\n")
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows: w.writerow([r["network"], r["params"], *[f(r[c], 4) for c in COLUMNS[2:]]])
    if any(r["int8 ms"] is not None for r in rows): figure(rows, out / "frontier.png")
    print("\n".join(lines), flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("P8SEG_CAMVID", "../shared/data/camvid"),
                   help="CamVid root, relative to the repository or absolute (default $P8SEG_CAMVID or ../shared/data/camvid)")
    p.add_argument("--work", default="frontier_runs", help="training folders, relative to the repository (not committed)")
    p.add_argument("--out", default="results/deploy", help="where frontier.md/.csv/.png and frontier/*.json go")
    p.add_argument("--only", help=f"comma-separated networks (default: all, in order: {', '.join(NETWORKS)})")
    p.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs (the recipe's 12; fewer for a quick try)")
    p.add_argument("--runs", type=int, default=50, help="timed rounds of bench_deploy")
    p.add_argument("--n-calib", type=int, default=16, help="training images calibrating the int8 export")
    p.add_argument("--retrain-unet-mini", action="store_true", help="train unet_mini instead of reusing the recipe ablation's baseline run")
    p.add_argument("--no-latency", action="store_true", help="skip the latency run (the table shows '-')")
    p.add_argument("--table", action="store_true", help="only rewrite the table and figure from the JSON files")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(NETWORKS)
    unknown = [n for n in names if n not in NETWORKS]
    if unknown: p.error(f"unknown network(s) {unknown}; known: {', '.join(NETWORKS)}")
    out = REPO / args.out if not Path(args.out).is_absolute() else Path(args.out)
    results = out / "frontier"
    shown = shlex.join(["python", "benchmarks/frontier.py", *argv])
    if not args.table:
        for name in names:
            run(name, args, results)
            table(results, out, shown)
        if not args.no_latency: latency(names, args, results)
    table(results, out, shown)


if __name__ == "__main__":
    main()
