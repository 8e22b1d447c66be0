"End-to-end checks of `p8seg.evaluate`'s entry points (what `p8seg evaluate` / `p8seg predict` call) and bad input."
import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import tiny_data_and_model

from p8seg.synth import make_synthetic_cityscapes

from p8seg.sources import load_file_paths

from p8seg.data import read_image
from p8seg.evaluate import run_evaluate, evaluate, Evaluation
from p8seg.inference import run_predict, load_model, predict
from p8seg.labels import CATEGORY_NAMES


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return tiny_data_and_model(tmp_path_factory.mktemp("evaluate"), n_train=2, n_val=3, n_test=1, seed=1)


def test_run_evaluate_writes_table_and_figures(setup, capsys):
    tmp, root, model_path = setup
    ev = run_evaluate(model_path, root, "val", tmp / "eval", n_worst=2)
    assert isinstance(ev, Evaluation)
    out = capsys.readouterr().out
    assert all(name in out for name in CATEGORY_NAMES[1:]) and "mean (7 categories)" in out
    for name in ["scores.csv", "per_image.csv", "confusion.png", "worst.png"]:
        assert (tmp / "eval" / name).stat().st_size > 0, name
    assert len(ev.per_image) == 3 and ev.confusion.sum() > 0
    assert 0.0 <= ev.miou <= 1.0


def test_evaluate_matches_predict_at_full_resolution(setup):
    "The split matrix is the sum of per-image matrices of `predict`'s full-size masks."
    from p8seg.metrics import category_confusion
    from p8seg.data import read_label_ids
    tmp, root, model_path = setup
    model = load_model(model_path)
    images, labels = load_file_paths(root, "val")
    masks = predict(model, [read_image(p) for p in images])
    assert all(m.shape == (64, 128) for m in masks)
    expected = sum(category_confusion(read_label_ids(p), m) for p, m in zip(labels, masks))
    np.testing.assert_array_equal(evaluate(model, root, "val").confusion, expected)


def test_test_split_is_refused_before_loading(setup, tmp_path):
    tmp, root, _ = setup
    with pytest.raises(ValueError, match="test.*placeholders"):
        run_evaluate(tmp_path / "no_model.keras", root, "test", tmp_path / "eval")


def test_missing_and_broken_model_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.keras"):
        load_model(tmp_path / "nothing.keras")
    broken = tmp_path / "broken.keras"; broken.write_text("not a model")
    with pytest.raises(ValueError, match="broken.keras"):
        load_model(broken)


def test_run_predict_writes_three_pngs_per_image(setup):
    tmp, root, model_path = setup
    images, _ = load_file_paths(root, "val")
    written = run_predict(model_path, [images[0], root / "leftImg8bit" / "test"], tmp / "pred")
    assert len(written) == 3 * 2
    stem = images[0].stem
    category = cv2.imread(str(tmp / "pred" / f"{stem}_category.png"), cv2.IMREAD_UNCHANGED)
    assert category.shape == (64, 128) and category.dtype == np.uint8 and category.max() <= 7
    color = cv2.imread(str(tmp / "pred" / f"{stem}_color.png"))
    overlay = cv2.imread(str(tmp / "pred" / f"{stem}_overlay.png"))
    assert color.shape == overlay.shape == (64, 128, 3)


def test_run_predict_bad_inputs_name_the_file(setup, tmp_path):
    _, _, model_path = setup
    with pytest.raises(FileNotFoundError, match="missing.png"):
        run_predict(model_path, [tmp_path / "missing.png"], tmp_path / "out")
    not_an_image = tmp_path / "notes.png"; not_an_image.write_text("hello")
    with pytest.raises(Exception, match="notes.png"):
        run_predict(model_path, [not_an_image], tmp_path / "out")
    empty = tmp_path / "empty"; empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        run_predict(model_path, [empty], tmp_path / "out")


def test_split_scores_equal_the_official_script(setup, tmp_path):
    "evaluate() on a split == cityscapesscripts' evaluateImgLists on the same files (prediction as labelId PNGs)."
    official = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    from p8seg.labels import LABELS, N_CATEGORIES, VOID
    tmp, root, model_path = setup
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
