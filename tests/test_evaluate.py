"End-to-end checks of `p8seg.evaluate` (what `p8seg evaluate` calls): table and figures, agreement with `predict` and with the official Cityscapes script, bad input."
import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
from pathlib import Path

import cv2
import numpy as np
import pytest


from p8seg.sources import load_file_paths

from p8seg.data import read_image
from p8seg.evaluate import run_evaluate, evaluate, Evaluation
from p8seg.config import P8segError
from p8seg.inference import load_model, predict
from p8seg.labels import CATEGORY_NAMES


def test_run_evaluate_writes_table_and_figures(tiny_setup, tmp_path, capsys):
    _, root, model_path = tiny_setup
    tmp = tmp_path
    ev = run_evaluate(model_path, root, "val", tmp / "eval", n_worst=2)
    assert isinstance(ev, Evaluation)
    out = capsys.readouterr().out
    assert all(name in out for name in CATEGORY_NAMES[1:]) and "mean (7 categories)" in out
    for name in ["scores.csv", "per_image.csv", "confusion.png", "worst.png"]:
        assert (tmp / "eval" / name).stat().st_size > 0, name
    assert len(ev.per_image) == 3 and ev.confusion.sum() > 0
    cm = ev.confusion.astype(float)                             # by hand: IoU = tp / (tp + fp + fn) of the 7 categories
    tp = np.diag(cm)[1:]; fn = cm[1:].sum(1) - tp; fp = cm[:, 1:].sum(0) - tp
    with np.errstate(invalid="ignore"): iou = tp / (tp + fp + fn)
    assert ev.miou == pytest.approx(np.nanmean(iou), abs=1e-12)


def test_evaluate_matches_predict_at_full_resolution(tiny_setup):
    "The split matrix is the sum of per-image matrices of `predict`'s full-size masks."
    from p8seg.metrics import category_confusion
    from p8seg.data import read_label_ids
    tmp, root, model_path = tiny_setup
    model = load_model(model_path)
    images, labels = load_file_paths(root, "val")
    masks = predict(model, [read_image(p) for p in images])
    assert all(m.shape == (64, 128) for m in masks)
    expected = sum(category_confusion(read_label_ids(p), m) for p, m in zip(labels, masks))
    np.testing.assert_array_equal(evaluate(model, root, "val").confusion, expected)


def test_test_split_is_refused_before_loading(tiny_setup, tmp_path):
    tmp, root, _ = tiny_setup
    with pytest.raises(ValueError, match="test.*placeholders"):
        run_evaluate(tmp_path / "no_model.keras", root, "test", tmp_path / "eval")


def test_unwritable_output_folder_evaluate(models, tmp_path):
    blocker = tmp_path / "a_file"; blocker.write_text("")
    with pytest.raises(P8segError, match=f"cannot write to the output folder {blocker / 'eval'}"):
        run_evaluate(models / "good.keras", tmp_path / "no_data_needed", out_dir=blocker / "eval")


def test_split_scores_equal_the_official_script(tiny_setup, tmp_path):
    "evaluate() on a split == cityscapesscripts' evaluateImgLists on the same files (prediction as labelId PNGs)."
    official = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    from p8seg.labels import LABELS, N_CATEGORIES, VOID
    tmp, root, model_path = tiny_setup
    model = load_model(model_path)
    images, labels = load_file_paths(root, "val")
    representative = np.array([next(l.id for l in LABELS if l.categoryId == c and (c == VOID or not l.ignoreInEval))
                               for c in range(N_CATEGORIES)], dtype=np.uint8)
    masks = predict(model, [read_image(p) for p in images])
    assert len(np.unique(np.concatenate([m.ravel() for m in masks]))) >= 3   # a non-trivial prediction
    predictions = []
    for path, mask in zip(images, masks):
        out = tmp_path / f"{path.stem}_pred.png"
        assert cv2.imwrite(str(out), representative[mask])
        predictions.append(str(out))
    args = official.args
    args.evalInstLevelScore, args.evalPixelAccuracy, args.JSONOutput, args.quiet = False, False, False, True
    theirs = official.evaluateImgLists(predictions, [str(p) for p in labels], args)
    ours = evaluate(model, root, "val")
    for c, name in enumerate(CATEGORY_NAMES):
        expected = theirs["categoryScores"][name]
        if np.isnan(expected): assert np.isnan(ours.scores["iou"][c]), name
        else: assert ours.scores["iou"][c] == pytest.approx(expected, abs=1e-12), name
    assert ours.miou == pytest.approx(theirs["averageScoreCategories"], abs=1e-12)


def test_report_carries_val_and_the_unseen_streets(tmp_path, capsys):
    "A model whose run.json names unseen groups is scored on val and on those frames of train, both in the report."
    import json, shutil
    from p8seg.config import P8segError
    from conftest import tiny_data_and_model
    _, root, model_path = tiny_data_and_model(tmp_path, n_train=6, n_val=2, n_test=0, seed=3)   # cities aachen, bochum, bremen
    run_dir = tmp_path / "run"; run_dir.mkdir(); shutil.copy(model_path, run_dir / "model.keras")
    (run_dir / "run.json").write_text(json.dumps({"config": {"unseen": ["bremen"]}, "data": str(root), "source": "cityscapes"}))
    ev = run_evaluate(run_dir / "model.keras", root, "val", tmp_path / "eval", n_worst=1)
    out = capsys.readouterr().out
    assert "on the unseen streets (bremen" in out and "[val]" in out
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    model = load_model(model_path)
    bremen = evaluate(model, root, "train", groups=["bremen"])
    assert report["unseen"] == {"groups": ["bremen"], "miou": bremen.miou, "images": 2}
    assert report["miou"] == ev.miou == evaluate(model, root, "val").miou
    assert (tmp_path / "eval" / "scores_unseen.csv").exists()
    alone = run_evaluate(run_dir / "model.keras", root, "unseen", tmp_path / "eval_unseen", n_worst=1)
    assert alone.miou == bremen.miou and "[unseen: groups bremen of train]" in capsys.readouterr().out
    with pytest.raises(P8segError, match="names no unseen groups"):
        run_evaluate(model_path, root, "unseen", tmp_path / "eval_none")
