"""A run killed with SIGKILL resumes at its last finished epoch and ends exactly like an uninterrupted run; caches
written by a killed process are never trusted half-written."""
import json, signal

import numpy as np

import pytest

from conftest import run_python

TRAIN = """
import json, os, signal
import p8seg.train as T
import p8seg.resume as R
from p8seg.config import TrainConfig
KILL_AFTER = {kill_after}
original = R.RunBackup.on_epoch_end
def kill_after_backup(self, epoch, logs=None):   # a deterministic kill point: right after epoch KILL_AFTER's backup
    original(self, epoch, logs)
    if epoch + 1 == KILL_AFTER: os.kill(os.getpid(), signal.SIGKILL)
R.RunBackup.on_epoch_end = kill_after_backup
r = T.train(TrainConfig(data={data!r}, img_size=(32, 64), batch_size=4, epochs=4, learning_rate=1e-3, loss="tversky",
                        augment=True, score_every=1, out={out!r}, verbose=0))
print("RESULT " + json.dumps({{"history": r.history, "digest": R.weights_digest(r.model), "run_id": r.run_id,
                               "miou": r.scores["miou"], "backup_left": (r.run_dir / "backup").exists()}}))
"""


def result(run):
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(next(l for l in run.stdout.splitlines() if l.startswith("RESULT "))[7:])


@pytest.fixture
def data(synthetic_data):
    return synthetic_data


def test_sigkilled_run_resumes_with_identical_history_and_weights(data, tmp_path):
    whole = result(run_python(TRAIN.format(kill_after=0, data=str(data), out=str(tmp_path / "whole"))))
    killed = run_python(TRAIN.format(kill_after=2, data=str(data), out=str(tmp_path / "killed")))
    assert killed.returncode == -signal.SIGKILL
    meta = json.loads((tmp_path / "killed" / "runs" / "tversky" / "seed0" / "backup" / "meta.json").read_text())
    assert meta["epochs"] == 2
    resumed_run = run_python(TRAIN.format(kill_after=0, data=str(data), out=str(tmp_path / "killed")))
    assert "resuming tversky (seed 0) after epoch 2" in resumed_run.stdout
    resumed = result(resumed_run)
    np.testing.assert_equal(resumed["history"], whole["history"])  # every epoch's figures, before and after the kill
    assert resumed["digest"] == whole["digest"] and resumed["miou"] == whole["miou"]
    assert resumed["run_id"] == meta["run_id"]                    # the same MLflow run, continued
    assert not resumed["backup_left"]                             # a finished run deletes its backup


CACHE = """
import os, signal
import p8seg.data as D
calls = {{"n": 0}}
original = D.load_pair
def dying_load_pair(*args, **kw):   # killed in the middle of writing the cache
    calls["n"] += 1
    if {kill} and calls["n"] == 3: os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kw)
D.load_pair = dying_load_pair
images, masks = D.load_split({data!r}, "train", (32, 64), cache_dir={cache!r}, workers=1)
print("RESULT", len(images), int(masks.max()))
"""


def test_cache_killed_mid_write_is_not_trusted(data, tmp_path):
    cache = tmp_path / "cache"
    killed = run_python(CACHE.format(kill=True, data=str(data), cache=str(cache)))
    assert killed.returncode == -signal.SIGKILL
    assert not [p for p in cache.iterdir() if not p.name.startswith(".")]     # only a hidden temporary folder left
    again = run_python(CACHE.format(kill=False, data=str(data), cache=str(cache)))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "RESULT 8" in again.stdout                                          # rebuilt complete, all 8 images
