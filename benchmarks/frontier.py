"""The accuracy-speed frontier on CamVid: each network's mIoU (val and the unseen street; Keras and the int8 export)
against its latency at 256x512, 384x480 (the camera's 360x480, padded) and 512x1024 (TFLite, 2 threads).

    python benchmarks/frontier.py --data ../shared/data/camvid          # every network, in order; resumable
    python benchmarks/frontier.py --data ../shared/data/camvid --only unet_mini,fpn_lite_lite0
    python benchmarks/frontier.py --table                                # rewrite frontier.md/.csv/.png only

A thin caller of the library. What runs, in order:

1. Accuracy, network after network (`NETWORKS`). A network whose accuracy comes from a row of
   `benchmarks/recipe.py` (`REUSED`: unet_mini <- baseline; the pretrained EfficientNet-Lite networks fpn_lite_lite0
   <- lite0_fpn_192x256, lraspp_lite0 <- lite0_lraspp_192x256, fpn_lite_lite2 <- lite2_fpn_192x256,
   fpn_lite_lite0_288x384 <- lite0_fpn_288x384, fpn_lite_lite0_352x480 <- lite0_fpn_352x480_total_ep45, the car's choice) reuses that row's
   run, `recipe_runs/<row>/runs/<the loss of the row's config>/seed<its seed>`, when `results/recipe/<row>.json` is there and
   the run's run.json config equals that JSON's config: nothing is retrained, and the table's command is the row's
   command plus " (reused: benchmarks/recipe.py's run)". A Lite network whose row has no finished run yet is "not
   finished" (recipe.py trains it, never this script). unet_mini is reused only when its row is this script's own
   recipe at `--epochs` (and not with `--retrain-unet-mini`); otherwise it is trained like every other network: one
   `p8seg train` command with the recipe `baseline` of `results/recipe/` (loss total, 96x128, 12 epochs, batch 8,
   Adam 1e-3 constant, seed 0, sequence 0006R0 held out, random initial weights), run as a child process, so the
   command in the table is exactly what ran (the last from-scratch network departs from the recipe in one option:
   192x256 frames for LR-ASPP, whose stride-16 features are 6x8 cells of a 96x128 frame; the table names it).
   Training folders go to `--work` (not committed); an interrupted training resumes from its last epoch. Each model
   is exported with `p8seg.export.export_model` (what `p8seg export --format tflite --quantize int8` writes: the
   faithful graph, 16 calibration images of the training split) and both are scored with `p8seg.evaluate.evaluate`
   at CamVid's full 360x480 under the official rule, on `val` and on the unseen street. One JSON per finished network
   goes to `<out>/frontier/<name>.json`; a rerun skips it when its command (and, reused, the row's config) is the same.
2. Latency: ONE child run of `benchmarks/bench_deploy.py` for the architecture of every network asked
   (`unet_mini`, ..., `linknet/mobilenetv2`, `fpn_lite/efficientnet_lite0`, `lraspp/efficientnet_lite0`,
   `fpn_lite/efficientnet_lite2`) at 256x512, 384x480 and 512x1024, so all are timed side by side: models untrained
   and built at each size (the weights do not change the time), Keras and TFLite fp32/fp16/int8 in `--runs` (default
   30) interleaved rounds after 5 warm-up, 2 threads, the rows to `<out>/frontier/latency.json`. It is skipped when
   that JSON has the same command, unless `--retime`. With every network, 8 architectures x 3 sizes: about 20 min on
   an idle 2-core machine (estimated, not measured: a 4-architecture smoke run at 64x96 took 63 s at load 7, nearly
   all in the TFLite conversions, which are 24 x 3 here; the 30 rounds are mostly unet_mini's and unet_mini_nobn's
   512x1024 frames, 0.5-1 s a variant idle).
3. The table `<out>/frontier.md`, `frontier.csv` and the figure `frontier.png` (mIoU against int8 latency at
   384x480, the camera's resolution) from the JSON files present, with bench_deploy's record of the machine (load
   average before and after, the CPU time other processes took during the run, the niceness). Latency taken on a busy
   machine or at a niceness above 0 is a warning, not a result: the table says so and judges no speed goal on it. Run
   this script at normal priority (no `nice`) on an idle machine.
"""
import argparse, csv, json, resource, shlex, subprocess, sys, time
from pathlib import Path

from p8seg.config import camvid_argument   # $P8SEG_CAMVID as written, else ../shared/data/camvid
from p8seg.cli import run_p8seg             # a `p8seg ...` argv as a child process
from p8seg.files import write_json_atomic
from p8seg.labels import CATEGORY_NAMES

REPO = Path(__file__).resolve().parents[1]
RECIPE_RUNS = REPO / "recipe_runs"                  # benchmarks/recipe.py's training folders
RECIPE_RESULTS = REPO / "results" / "recipe"        # and its JSON per row
REUSED_NOTE = " (reused: benchmarks/recipe.py's run)"
RECIPE = ["--loss", "total", "--unseen", "0006R0", "--img-size", "96x128", "--batch-size", "8", "--lr", "0.001",
          "--seed", "0"]
EPOCHS = 12
# name -> (p8seg --arch, extra options), in the order they run and show
NETWORKS = {
    "unet_mini": ("unet_mini", []),
    "lraspp_mobilenetv3_minimalistic": ("lraspp_mobilenetv3_minimalistic", []),
    "unet_mini_nobn": ("unet_mini_nobn", []),
    "linknet_mobilenetv2": ("linknet", ["--backbone", "mobilenetv2"]),
    "lraspp_mobilenetv3": ("lraspp_mobilenetv3", []),
    # the one departure from the recipe: the stride-16 encoder sees 6x8 cells of a 96x128 frame; trained at 192x256
    "lraspp_mobilenetv3_minimalistic_192x256": ("lraspp_mobilenetv3_minimalistic", ["--img-size", "192x256"]),
    # the pretrained networks: trained by their rows of benchmarks/recipe.py only (REUSED)
    "fpn_lite_lite0": ("fpn_lite", ["--backbone", "efficientnet_lite0"]),
    "lraspp_lite0": ("lraspp", ["--backbone", "efficientnet_lite0"]),
    "fpn_lite_lite2": ("fpn_lite", ["--backbone", "efficientnet_lite2"]),
    "fpn_lite_lite0_288x384": ("fpn_lite", ["--backbone", "efficientnet_lite0"]),   # at 288x384 frames
    "fpn_lite_lite0_352x480": ("fpn_lite", ["--backbone", "efficientnet_lite0"]),   # the car's recipe (352x480, loss total, 45 epochs)
}
# name -> the row of benchmarks/recipe.py whose run gives its accuracy (reused, not retrained)
REUSED = {"unet_mini": "baseline", "fpn_lite_lite0": "lite0_fpn_192x256", "lraspp_lite0": "lite0_lraspp_192x256",
          "fpn_lite_lite2": "lite2_fpn_192x256", "fpn_lite_lite0_288x384": "lite0_fpn_288x384",
          "fpn_lite_lite0_352x480": "lite0_fpn_352x480_total_ep45"}   # the car's rule's choice (recipe.car_choice)
LITE = tuple(n for n in REUSED if n != "unet_mini")    # the pretrained ones, never trained here: their row's run or "not finished"
REALTIME = ("lraspp_mobilenetv3", "lraspp_mobilenetv3_minimalistic")
SIZES = ("256x512", "384x480", "512x1024")   # 384x480: the camera's 360x480 padded to a multiple of 32
SIZE, CAMERA, LARGE = SIZES                  # the old goal's size, the figure's and the car's floor's, the car's second
CAR_FLOOR = f">= 60 fps at {CAMERA} and >= 20 fps at {LARGE}, int8, 2 threads"
CATEGORIES = list(CATEGORY_NAMES[1:])   # void left out
COLUMNS = ("network", "params", "val keras", "val int8", "unseen keras", "unseen int8", f"fp32 ms {SIZE}",
           f"fp32 fps {SIZE}", *[f"int8 {k} {s}" for s in SIZES for k in ("ms", "fps")], "int8 MB", f"GFLOPs {SIZE}")


def option(extra, flag):
    "The value of `flag` in a list of `--option value` pairs, or None."
    return extra[extra.index(flag) + 1] if flag in extra else None


def spec(name) -> str:
    "The architecture bench_deploy times for a network: ARCH or ARCH/BACKBONE."
    arch, extra = NETWORKS[name]
    return arch + (f"/{option(extra, '--backbone')}" if option(extra, "--backbone") else "")


def command(name, data, work, epochs) -> list:
    "The `p8seg train` argv of a network trained here (data and work folder as given: no machine path is recorded)."
    if name in LITE: raise ValueError(f"{name} is trained by benchmarks/recipe.py ({REUSED[name]}), not here")
    arch, extra = NETWORKS[name]
    recipe = [*RECIPE]
    for i in range(0, len(extra), 2):          # an option of `extra` replaces the recipe's value
        if extra[i] in recipe: j = recipe.index(extra[i]); recipe[j + 1] = extra[i + 1]
    extra = [a for i in range(0, len(extra), 2) if extra[i] not in RECIPE for a in extra[i:i + 2]]
    return ["p8seg", "train", "--data", str(data), *recipe, "--epochs", str(epochs), "--arch", arch, *extra,
            "--out", f"{work}/{name}", "--quiet"]


def recipe_row(name, epochs):
    """The JSON record of the recipe row a network reuses, when it is there and trained this network (unet_mini: by
    this script's own recipe at `epochs`, since it is the one the others are trained by), else None."""
    row = REUSED.get(name)
    if row is None or not (RECIPE_RESULTS / f"{row}.json").exists(): return None
    record = json.loads((RECIPE_RESULTS / f"{row}.json").read_text())
    c, (arch, extra) = record.get("config") or {}, NETWORKS[name]
    if c.get("arch") != arch or c.get("backbone") != option(extra, "--backbone"): return None
    if name not in LITE:
        want = {"loss": "total", "unseen": ["0006R0"], "img_size": [96, 128], "batch_size": 8, "learning_rate": 0.001,
                "seed": 0, "epochs": epochs, "augment": False, "lr_schedule": "constant", "class_weights": False,
                "encoder_weights": None}
        if any(c.get(k) != v for k, v in want.items()): return None
    return record


def reusable(name, record):
    "The run folder of a recipe row when its model is there and its run.json config is the row JSON's, else None."
    run_dir = RECIPE_RUNS / REUSED[name] / "runs" / record["config"]["loss"] / f"seed{record['config']['seed']}"
    if not (run_dir / "run.json").exists() or not (run_dir / "model.keras").exists(): return None
    return run_dir if json.loads((run_dir / "run.json").read_text()).get("config") == record["config"] else None


def score(model, data, groups):
    "val and unseen mIoU and per-category IoU at full resolution."
    from p8seg.evaluate import split_summary
    return {"val": split_summary(model, data, interval=False), "unseen": split_summary(model, data, "train", groups, interval=False)}


def run(name, args, results):
    "Reuse (or train, or resume) one network, export int8, score both, write its JSON; skip it when done."
    path = results / f"{name}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    row = None if name == "unet_mini" and args.retrain_unet_mini else recipe_row(name, args.epochs)
    run_dir = row and reusable(name, row)
    reused = row and f"{row['command']}{REUSED_NOTE}"
    if row and (run_dir or (old.get("command") == reused and old.get("config") == row["config"])):
        shown, argv = reused, None                     # the row's run (or its scores, already in `old`)
    elif name in LITE:
        print(f"frontier {name}: not finished (benchmarks/recipe.py's {REUSED[name]} has no finished run here)", flush=True)
        return
    else:
        row, argv = None, command(name, args.data, args.work, args.epochs)
        shown = shlex.join(argv)
    if old.get("command") == shown and (row is None or old.get("config") == row["config"]):
        print(f"frontier {name}: done, skipped ({path.name})", flush=True); return
    print(f"frontier {name}: {shown}", flush=True)
    from p8seg.inference import load_model, TFLiteModel
    from p8seg.export import export_model
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if row:
        model_path, config = run_dir / "model.keras", row["config"]
    else:
        run_p8seg(argv, REPO)
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
              "reused": bool(row), "recipe_row": REUSED[name] if row else None, "config": config,
              "params": int(model.count_params()),
              "train_wall_min": None if row else (time.perf_counter() - start) / 60,
              "train_cpu_min": None if row else (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / 60,
              "int8_mb": int8.stat().st_size / 1e6, "n_calib": args.n_calib,
              "keras": score(model, data, groups), "int8": score(TFLiteModel(int8, num_threads=2), data, groups)}
    write_json_atomic(path, record, end="\n")
    k, q = record["keras"], record["int8"]
    print(f"frontier {name}: val {k['val']['miou']:.3f} (int8 {q['val']['miou']:.3f}), unseen {k['unseen']['miou']:.3f} "
          f"(int8 {q['unseen']['miou']:.3f})", flush=True)


def latency_argv(names, runs, out) -> list:
    "The bench_deploy argv timing every network's architecture at the three sizes in one run."
    specs = list(dict.fromkeys(spec(n) for n in names))
    return ["benchmarks/bench_deploy.py", "--archs", ",".join(specs), "--sizes", ",".join(SIZES), "--runs", str(runs),
            "--warmup", "5", "--json", str(out.relative_to(REPO)) if out.is_relative_to(REPO) else str(out)]


def latency(names, args, results):
    "bench_deploy for every network's architecture at the three sizes, in one run; skipped when its JSON has the same command."
    out = results / "latency.json"
    argv = latency_argv(names, args.runs, out)
    shown = shlex.join(["python", *argv])
    if out.exists() and not args.retime and json.loads(out.read_text()).get("written_by") == shown:
        print(f"frontier latency: done, skipped ({out.name}; --retime times it again)", flush=True); return
    print(f"frontier latency: {shown}", flush=True)
    subprocess.run([sys.executable, *argv], cwd=REPO, check=True)


def caveats(lat) -> list:
    "Why the latency figures are a warning and not a result ([]: they are a result, or there are none)."
    if not lat["rows"]: return []
    m = lat.get("machine")
    if m is None: return ["their JSON has no record of the machine (the CPU other processes took, the niceness)"]
    why = []
    if m["busy"]:
        others = "unknown" if m["others_cpus"] is None else f"{m['others_cpus']:.2f}"
        why.append(f"the machine was busy (other processes took {others} of its {m['cpus']} CPUs on average; load "
                   f"average {m['load_before']:.1f} -> {m['load_after']:.1f})")
    if m["niceness"] > 0: why.append(f"they were taken at niceness {m['niceness']}")
    return why


def rows_of(results):
    "One dict per network whose JSON is there, with its latency (None where not measured); the latency JSON."
    lat = json.loads((results / "latency.json").read_text()) if (results / "latency.json").exists() else {"rows": []}
    timed = {(r["arch"], "x".join(map(str, r.get("asked", r["size"]))), r["variant"]): r for r in lat["rows"]}
    rows = []
    for name in NETWORKS:
        if not (results / f"{name}.json").exists(): continue
        r = json.loads((results / f"{name}.json").read_text())
        t = lambda variant, size, key: (timed.get((spec(name), size, variant)) or {}).get(key)
        row = {"network": name, "params": r["params"], "val keras": r["keras"]["val"]["miou"],
               "val int8": r["int8"]["val"]["miou"], "unseen keras": r["keras"]["unseen"]["miou"],
               "unseen int8": r["int8"]["unseen"]["miou"], f"fp32 ms {SIZE}": t("tflite fp32", SIZE, "median ms"),
               f"fp32 fps {SIZE}": t("tflite fp32", SIZE, "fps"), "int8 MB": r["int8_mb"],
               f"GFLOPs {SIZE}": t("tflite int8", SIZE, "GFLOPs"), "command": r["command"], "record": r,
               "figure": (t("tflite fp32", CAMERA, "median ms"), t("tflite int8", CAMERA, "median ms"))}
        for size in SIZES:
            row[f"int8 ms {size}"], row[f"int8 fps {size}"] = t("tflite int8", size, "median ms"), t("tflite int8", size, "fps")
        rows.append(row)
    return rows, lat, timed


def record_gap(r, tol=5e-4):
    """A line when a reused row's run scores otherwise than its row's record in `results/recipe/` (the run was made
    again by the row's command, e.g. on another CPU, whose arithmetic gives other digits), else None."""
    row = r["record"].get("recipe_row")
    if not row or not (RECIPE_RESULTS / f"{row}.json").exists(): return None
    rec = json.loads((RECIPE_RESULTS / f"{row}.json").read_text())
    mine, theirs = (r["val keras"], r["unseen keras"]), (rec["val"]["miou"], rec["unseen"]["miou"])
    if all(abs(a - b) <= tol for a, b in zip(mine, theirs)): return None
    return (f"- {r['network']}: its run scores val {mine[0]:.3f}, unseen {mine[1]:.3f} (Keras); the record of "
            f"`results/recipe/{row}.json` says {theirs[0]:.3f}, {theirs[1]:.3f}: the run here is the row's command run "
            "again, not the run of the record")


def figure(rows, path, warning):
    "mIoU (val and unseen, int8 export) against int8 latency at the camera's 384x480, fp32 latency as the segment's other end."
    import matplotlib, matplotlib.ticker; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    shown = [r for r in rows if r["figure"][1] is not None]
    for r in shown:
        fp32, int8 = r["figure"]
        for split, marker in (("val", "o"), ("unseen", "s")):
            y = r[f"{split} int8"]
            if fp32 is not None:
                ax.plot([fp32, int8], [r[f"{split} keras"], y], color="0.75", lw=1, zorder=1)
            ax.scatter([int8], [y], marker=marker, s=40, zorder=2, color="C0" if split == "val" else "C1",
                       label=f"{split} (int8)" if r is shown[0] else None)
        ax.annotate(r["network"], (int8, r["val int8"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.axvline(1000 / 60, color="C3", ls="--", lw=1, label="60 fps (the car's floor)")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([5, 10, 20, 50, 100, 200, 500, 1000, 2000]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(f"latency of one {CAMERA} frame (the camera's), ms (TFLite, 2 threads; grey: from fp32 to int8)")
    ax.set_ylabel("mIoU (7 categories, full 360x480)")
    ax.set_title("CamVid: accuracy against speed (table: frontier.md)"
                 + ("\nlatency on a busy machine or niced: a warning, not a result" if warning else ""),
                 color="C3" if warning else "black")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def verdict(ok, judged) -> str:
    return ("MET" if ok else "NOT MET") if judged else "not judged: a warning, not a result"


def table(results, out, shown):
    "frontier.md, frontier.csv and frontier.png from the JSON files present."
    rows, lat, timed = rows_of(results)
    why = caveats(lat)
    out.mkdir(parents=True, exist_ok=True)
    f = lambda x, d=3: "-" if x is None else f"{x:.{d}f}"
    digits = {"int8 MB": 2, f"GFLOPs {SIZE}": 2}
    cells = lambda r: [r["network"], f"{r['params']:,}",
                       *[f(r[c], 3 if c.startswith(("val", "unseen")) else digits.get(c, 1)) for c in COLUMNS[2:]]]
    names = {r["network"] for r in rows}
    missing = [n + (f" (waits for benchmarks/recipe.py's {REUSED[n]})" if n in LITE else "") for n in NETWORKS
               if n not in names]
    departs = [f"{n} ({' '.join(NETWORKS[n][1])})" for n in NETWORKS
               if n not in LITE and any(o in RECIPE for o in NETWORKS[n][1][::2])]
    lite = [f"{n} ({REUSED[n]})" for n in LITE]
    lines = [f"Written by `{shown}` from the JSON files in `frontier/`", "",
             "# The accuracy-speed frontier (CamVid)", "",
             "The networks from random initial weights are trained by the recipe `baseline` of `results/recipe/` (loss "
             "total, 96x128, 12 epochs, batch 8, Adam 1e-3 constant, seed 0; CamVid train without sequence 0006R0)"
             + (f", departing from it in the one option named: {', '.join(departs)}" if departs else "") + ". "
             "The pretrained networks (EfficientNet-Lite encoders from ImageNet, fine-tuned) are the runs of their rows "
             f"of `results/recipe/`, reused, not retrained: {', '.join(lite)}; their recipe is not the one above "
             "(30 epochs, cosine decay, augmentation, void left out; 192x256 and focal_tversky unless the name says a size, or "
             "its row a loss or more epochs: the commands below), so their "
             "lead is the encoder and its recipe together. Every network is scored at the full 360x480 under the official "
             "rule (mIoU of 7 categories) on `val` (101 frames of 0016E5) and on `unseen` (the 101 frames of 0006R0, never "
             "trained on; the model runs at its training size and its prediction is resized to the labels), as Keras and "
             "as its int8 export (`p8seg export --quantize int8`, 16 calibration images of the training split).", "",
             f"Latency: median ms of one frame at {', '.join(SIZES[:-1])} (the camera's 360x480, padded to a multiple of "
             f"32) and {LARGE}, TFLite through LiteRT with 2 threads, fps = 1000 / median; fp32 and GFLOPs at {SIZE}. Every "
             "architecture is timed untrained (the weights do not change the time) in one run of "
             "`benchmarks/bench_deploy.py`, side by side; its record of the machine:", ""]
    lines += [f"> {h}" for h in lat.get("header", [])] + ([""] if lat.get("header") else [])
    lines += ["**Latency is a result only when taken at niceness 0 on an idle machine** (other processes taking at most "
              "a tenth of the CPUs during the run, as bench_deploy measures it). Figures taken on a busy machine or at a "
              "niceness above 0 are a warning, not a result: no speed goal below is judged on them.", ""]
    if why:
        lines += [f"**The latency figures below are a warning, not a result:** {'; '.join(why)}. Rerun "
                  "`python benchmarks/frontier.py --retime` at normal priority on an idle machine.", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|---" + "|---:" * (len(COLUMNS) - 1) + "|",
              *["| " + " | ".join(cells(r)) + " |" for r in rows], ""]
    if missing: lines += [f"Not finished (no JSON yet): {', '.join(missing)}.", ""]
    for r in rows:
        val, unseen = r["val int8"] - r["val keras"], r["unseen int8"] - r["unseen keras"]
        within = lambda d: "within" if abs(d) <= 0.01 else "OUTSIDE"
        lines.append(f"- {r['network']}: int8 - Keras on val {val:+.4f} ({within(val)} 0.01), on unseen {unseen:+.4f} "
                     f"({within(unseen)} 0.01)")
    lines += [g for g in map(record_gap, rows) if g]
    ref = next((r for r in rows if r["network"] == "unet_mini"), None)
    for r in rows:
        fps = r[f"int8 fps {SIZE}"]
        if NETWORKS[r["network"]][0] in REALTIME and fps is not None:
            gap = "" if ref is None else (f", unseen {r['unseen int8']:.3f} against unet_mini's {ref['unseen int8']:.3f} "
                                          f"(int8; {'within' if ref['unseen int8'] - r['unseen int8'] <= 0.03 else 'NOT within'} 0.03)")
            lines.append(f"- goal '>= 30 fps at {SIZE} int8, unseen within 0.03 of unet_mini': {r['network']} "
                         f"{fps:.1f} fps ({verdict(fps >= 30, not why)}){gap}")
    for name in LITE:
        camera, large = [(timed.get((spec(name), s, "tflite int8")) or {}).get("fps") for s in (CAMERA, LARGE)]
        if camera is None or large is None:
            lines.append(f"- the car's floor '{CAR_FLOOR}': {name} not measured"); continue
        lines.append(f"- the car's floor '{CAR_FLOOR}': {name} {camera:.1f} fps at {CAMERA}, {large:.1f} fps at {LARGE} "
                     f"({verdict(camera >= 60 and large >= 20, not why)})")
    lines += ["", "![mIoU against latency](frontier.png)", "",
              f"frontier.png: val and unseen mIoU of each int8 export against its median latency at {CAMERA} (the camera's "
              "360x480, padded), the grey segment from the fp32 export (at the Keras mIoU); dashed: 60 fps, the car's "
              "floor." + (" Its latency is a warning, not a result (above)." if why else ""), "", "The commands:", "",
              *[f"- {r['network']}: `{r['command']}`" for r in rows]]
    (out / "frontier.md").write_text("\n".join(lines) + "\n")
    with open(out / "frontier.csv", "w", newline="") as fh:
        fh.write(f"# Written by `{shown}`\n")
        if why: fh.write(f"# latency a warning, not a result: {'; '.join(why)}\n")
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows: w.writerow([r["network"], r["params"], *[f(r[c], 4) for c in COLUMNS[2:]]])
    if any(r["figure"][1] is not None for r in rows): figure(rows, out / "frontier.png", bool(why))
    print("\n".join(lines), flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=camvid_argument(),
                   help="CamVid root, relative to the repository or absolute (default $P8SEG_CAMVID or ../shared/data/camvid)")
    p.add_argument("--work", default="frontier_runs", help="training folders, relative to the repository (not committed)")
    p.add_argument("--out", default="results/deploy", help="where frontier.md/.csv/.png and frontier/*.json go")
    p.add_argument("--only", help=f"comma-separated networks (default: all, in order: {', '.join(NETWORKS)})")
    p.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs (the recipe's 12; fewer for a quick try)")
    p.add_argument("--runs", type=int, default=30,
                   help="timed rounds of bench_deploy at each size (30: about 20 min for every network, idle)")
    p.add_argument("--n-calib", type=int, default=16, help="training images calibrating the int8 export")
    p.add_argument("--retrain-unet-mini", action="store_true", help="train unet_mini instead of reusing the recipe ablation's baseline run")
    p.add_argument("--no-latency", action="store_true", help="skip the latency run (the table keeps latency.json's rows)")
    p.add_argument("--retime", action="store_true", help="run the latency again even when latency.json has the same command")
    p.add_argument("--table", action="store_true", help="only rewrite the table and figure from the JSON files")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(NETWORKS)
    unknown = [n for n in names if n not in NETWORKS]
    if unknown: p.error(f"unknown network(s) {unknown}; known: {', '.join(NETWORKS)}")
    if args.runs < 1: p.error("--runs must be >= 1")
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
