"""p8seg.distribute in fresh processes: logical CPU devices must be configured before TensorFlow initialises.

- one `mirrored` step on 2 logical CPUs == the per-replica-mean reference, for each of the five losses
  (and a loss that divides by the number of replicas itself, i.e. twice, is caught);
- `multiworker` with a bad TF_CONFIG is a clear error; a two-worker cluster on localhost trains in lock-step;
- `p8seg train` and `compare_losses` on two localhost workers: both exit 0, only the chief writes, same initial
  weights, the same losses skipped on resume by `p8seg compare` (every launch killed at a deadline: it cannot hang CI);
- a lost worker (SIGKILLed, or alive but stuck): the other exits within the collective timeout, naming it.
"""
import json, os, signal, socket, subprocess, sys, threading, time
from pathlib import Path
import pytest

from conftest import REPO as ROOT, run_python, subprocess_env
from p8seg.config import LOSS_NAMES
HAVE_LOSSES = True


def run_py(code, env_extra=None, timeout=300):
    return run_python(code, timeout=timeout, **(env_extra or {}))


def last_json(run):
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


EQUIVALENCE = """
import json, p8seg.distribute as d
d.split_cpu(2)
import tensorflow as tf

class BatchDice(tf.keras.losses.Loss):
    "Dice over the whole batch (a region loss written here, independent of p8seg.losses)."
    def call(self, y_true, y_pred):
        tp = tf.reduce_sum(y_true * y_pred, [0, 1, 2]); total = tf.reduce_sum(y_true + y_pred, [0, 1, 2])
        return 1.0 - tf.reduce_mean((2.0 * tp + 1.0) / (total + 1.0))

class DividedTwice(BatchDice):
    "Wrong: divides by the number of replicas although Keras already does."
    def call(self, y_true, y_pred):
        return super().call(y_true, y_pred) / tf.distribute.get_strategy().num_replicas_in_sync

losses = {"batch_dice": BatchDice(), "divided_twice": DividedTwice(),
          "crossentropy": tf.keras.losses.CategoricalCrossentropy()}
if HAVE_LOSSES:
    from p8seg.losses import get_loss
    losses.update({name: get_loss(name) for name in NAMES})
out = {name: d.one_step_check(loss, "mirrored") for name, loss in losses.items()}
if HAVE_LOSSES:  # the streaming metric sums its confusion matrix over replicas: same value as on one device
    import numpy as np
    from p8seg.metrics import ArgmaxMeanIoU
    rng = np.random.default_rng(1)
    x = rng.random((8, 16, 16, 3), dtype=np.float32)
    y = np.eye(8, dtype=np.float32)[(x[..., 0] * 8).astype(int)]
    with d.get_strategy("mirrored").scope():
        model = d._tiny_net(); model.compile(loss="categorical_crossentropy", metrics=[ArgmaxMeanIoU()])
    ref = d._tiny_net(); ref.set_weights(model.get_weights())
    ref.compile(loss="categorical_crossentropy", metrics=[ArgmaxMeanIoU()])
    out["evaluate"] = {"mirrored": model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True),
                       "default": ref.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mirrored_checks():
    code = f"HAVE_LOSSES = {HAVE_LOSSES}; NAMES = {LOSS_NAMES!r}\n" + EQUIVALENCE
    return last_json(run_py(code))


def matches(check):
    "Weights equal to float tolerance, relative to how far the step moved them."
    return check["replica_mean"] <= 1e-4 * check["moved"] + 1e-7


def test_mirrored_uses_two_replicas(mirrored_checks):
    assert {c["num_replicas"] for name, c in mirrored_checks.items() if name != "evaluate"} == {2}


def test_mirrored_step_matches_per_replica_reference_controls(mirrored_checks):
    for name in ["batch_dice", "crossentropy"]:
        c = mirrored_checks[name]
        assert c["moved"] > 1e-5, (name, c)
        assert matches(c), (name, c)
    # a batch region loss is not the mean of its half-batch values: the full-batch reference is wrong
    assert mirrored_checks["batch_dice"]["full_batch"] > 100 * mirrored_checks["batch_dice"]["replica_mean"]
    # cross-entropy is a pixel mean: both references agree
    assert mirrored_checks["crossentropy"]["full_batch"] <= 1e-4 * mirrored_checks["crossentropy"]["moved"] + 1e-7


def test_dividing_twice_is_detected(mirrored_checks):
    assert not matches(mirrored_checks["divided_twice"]), mirrored_checks["divided_twice"]


@pytest.mark.skipif(not HAVE_LOSSES, reason="p8seg.losses not exported yet")
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_mirrored_step_matches_per_replica_reference(mirrored_checks, name):
    c = mirrored_checks[name]
    assert c["moved"] > 1e-6, (name, c)
    assert matches(c), (name, c)


def test_split_cpu_after_tensorflow_started_is_a_clear_error():
    r = run_py("import p8seg.distribute as d, tensorflow as tf; tf.constant(1.0); d.split_cpu(2)")
    assert r.returncode != 0
    assert "already initialised" in r.stderr and "fresh process" in r.stderr, r.stderr[-2000:]


@pytest.mark.parametrize("tf_config, message", [   # every malformed case is tested in nbs/09_distribute.ipynb
    (None, "TF_CONFIG environment variable, which is not set"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}', "out of range"),
])
def test_multiworker_bad_tf_config_is_a_clear_error(tf_config, message):
    extra = {} if tf_config is None else {"TF_CONFIG": tf_config}
    r = run_py("import p8seg.distribute as d; d.get_strategy('multiworker')", extra, timeout=120)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr[-2000:]


def test_multiworker_created_too_late_is_a_clear_error():
    tf_config = json.dumps({"cluster": {"worker": [f"localhost:{free_ports(1)[0]}"]}, "task": {"type": "worker", "index": 0}})
    r = run_py("import p8seg.distribute as d, tensorflow as tf; tf.constant(1.0) + 1; d.get_strategy('multiworker')",
               {"TF_CONFIG": tf_config}, timeout=120)
    assert r.returncode != 0
    assert "before TensorFlow runs any op" in r.stderr, r.stderr[-2000:]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks: s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks: s.close()
    return ports


MULTIWORKER = """
import json, p8seg.distribute as d
strategy = d.get_strategy("multiworker")
assert d.get_strategy("multiworker") is strategy   # one per process
import tensorflow as tf
check = d.one_step_check(tf.keras.losses.CategoricalCrossentropy(), strategy)
print(json.dumps({**check, **d.strategy_params(strategy), "is_chief": d.is_chief(strategy)}))
"""


def test_two_workers_on_localhost_train_in_lockstep():
    "The README's two-machine launch, with both workers on this machine."
    workers = [f"localhost:{p}" for p in free_ports(2)]
    env = subprocess_env()
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, "-c", MULTIWORKER], env={**env, "TF_CONFIG": tf_config},
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try: outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None: p.kill()
    results = []
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["is_chief"] for r in results] == [True, False]
    for r in results:
        assert r["strategy"] == "multiworker" and r["num_replicas"] == 2, r
        assert r["moved"] > 1e-4 and matches(r), r   # same step as one device on the global batch


@pytest.mark.skipif(not HAVE_LOSSES, reason="p8seg.losses/metrics not exported yet")
def test_mirrored_evaluate_matches_one_device(mirrored_checks):
    "Metrics reduce across replicas: loss and streaming mIoU of `evaluate` are the same as on one device."
    ev = mirrored_checks["evaluate"]
    assert set(ev["mirrored"]) == {"loss", "miou"}, ev
    for key in ev["default"]:
        assert abs(ev["mirrored"][key] - ev["default"][key]) < 1e-5, (key, ev)


# ---- end to end: p8seg.train / the CLI with a strategy (tiny synthetic set) ----

@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    r = run_py(f"from p8seg.synth import make_synthetic_cityscapes as m; m({str(root)!r}, n_train=4, n_val=2, n_test=1, size=(32, 64))")
    assert r.returncode == 0, r.stderr[-2000:]
    return root


TRAIN_MIRRORED = """
import json, p8seg.distribute as d
d.split_cpu(2)
from p8seg.config import TrainConfig
from p8seg.train import train
config = TrainConfig(data=DATA, img_size=(32, 64), batch_size=4, epochs=2, learning_rate=1e-3, loss="dice",
                     out=OUT, strategy="mirrored", verbose=0)
result = train(config)
import mlflow
params = mlflow.get_run(result.run_id).data.params      # what the MLflow run says it trained with
from p8seg.evaluate import evaluate
from p8seg.inference import load_model
scored = evaluate(load_model(result.run_dir / "model.keras"), DATA, "val", full_res=False).miou   # on one device
print(json.dumps({"status": result.status, "history": result.history, "miou": result.scores.get("miou"),
                  "evaluate_miou": scored, "replicas": d.get_strategy("mirrored").num_replicas_in_sync,
                  "logged": [params["strategy"], params["num_replicas"]]}))
"""


def test_train_mirrored_on_two_logical_cpus(tiny_data, tmp_path):
    "strategy='mirrored': model, optimizer, loss and metric built in the strategy's scope; 2 replicas, logged to MLflow."
    r = last_json(run_py(f"DATA = {str(tiny_data)!r}; OUT = {str(tmp_path)!r}\n" + TRAIN_MIRRORED, timeout=600))
    assert r["replicas"] == 2 and r["status"] == "finished" and r["logged"] == ["mirrored", "2"], r
    assert len(r["history"]["loss"]) == 2 and all(v == v for v in r["history"]["loss"]), r
    assert r["miou"] == pytest.approx(r["evaluate_miou"], abs=1e-6), r   # the run's score is its saved model's


def start_workers(argvs):
    "Start one process per argv, each a worker of a localhost cluster (TF_CONFIG differing by index); (processes, addresses)."
    workers = [f"localhost:{p}" for p in free_ports(len(argvs))]
    env = subprocess_env()
    env.pop("P8SEG_COLLECTIVE_TIMEOUT", None)
    procs = []
    for index, argv in enumerate(argvs):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, *argv], env={**env, "TF_CONFIG": tf_config}, cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs, workers


def run_workers(argvs, timeout=180):
    "`start_workers`, wait for all to exit 0 and return their stdout; kill all at the deadline."
    procs, _ = start_workers(argvs)
    deadline = time.monotonic() + timeout
    outputs = []
    try:
        for p in procs:
            try: outputs.append(p.communicate(timeout=max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                for q in procs: q.kill()
                pytest.fail(f"the {len(procs)} workers did not finish in {timeout} s (a worker waiting for the other?)")
    finally:
        for p in procs:
            if p.poll() is None: p.kill(); p.wait()
    for i, (p, (out, err)) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, (i, out[-1500:], err[-3000:])
    return [out for out, err in outputs]


CLI = ["-c", "import sys; from p8seg.cli import main; sys.exit(main())"]


COMPARE = """
import json, sys
import p8seg.compare as c
from p8seg.config import TrainConfig
digests = []
real_check = c.check_same_start
c.check_same_start = lambda strategy, digest: (digests.append(digest), real_check(strategy, digest))[1]
config = TrainConfig(data=sys.argv[1], img_size=(32, 64), batch_size=4, epochs=1, learning_rate=1e-3, out=sys.argv[2],
                     strategy="multiworker", verbose=0)
table = c.compare_losses(config, losses=["dice", "iou"])
print(json.dumps({"chief": table.attrs["chief"], "rows": table[["loss", "status"]].values.tolist(), "digests": digests}))
"""


def test_compare_multiworker_two_workers_on_localhost(tiny_data, tmp_path):
    "compare_losses on two workers: same start, only the chief writes, and both skip the same losses on resume."
    def launch():
        outs = run_workers([["-c", COMPARE, str(tiny_data), str(tmp_path / f"out{i}")] for i in range(2)])
        return [json.loads(o.strip().splitlines()[-1]) for o in outs]
    chief, worker = launch()
    assert (chief["chief"], worker["chief"]) == (True, False)
    assert chief["digests"] == worker["digests"] and len(chief["digests"]) == 1   # the same initial weights
    assert sorted(chief["rows"]) == sorted(worker["rows"]) == [["dice", "finished"], ["iou", "finished"]]
    out0 = tmp_path / "out0"
    assert (out0 / "results.csv").exists() and (out0 / "runs" / "iou" / "seed0" / "model.keras").exists()
    assert not (tmp_path / "out1").exists()
    # resume, through `p8seg compare --strategy multiworker` (the same settings): the chief has both results, so
    # neither worker trains; both exit 0, only the chief prints the table
    args = ["compare", "--strategy", "multiworker", "--losses", "dice,iou", "--data", str(tiny_data), "--img-size", "32x64",
            "--batch-size", "4", "--epochs", "1", "--lr", "1e-3", "--quiet"]
    chief, worker = run_workers([[*CLI, *args, "--out", str(tmp_path / f"out{i}")] for i in range(2)])
    assert "dice (seed 0): already finished, skipped" in chief and "iou (seed 0): already finished" in chief, chief[-2000:]
    assert "training " not in chief and "training " not in worker, (chief[-2000:], worker[-2000:])
    assert "| dice | " in chief and "mlflow ui --backend-store-uri" in chief, chief[-2000:]
    assert "trained in lock-step" in worker and "| dice |" not in worker, worker[-2000:]
    assert (out0 / "results.md").exists() and not (tmp_path / "out1").exists()


# ---- a lost worker: the others stop within the collective timeout, naming it ----

KEEP_TRAINING = """
import faulthandler, sys, time
faulthandler.enable()   # a crash inside TensorFlow shows up in stderr
from pathlib import Path
import p8seg.distribute as d
marker, timeout, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
strategy = d.get_strategy("multiworker", collective_timeout=timeout)
import numpy as np, tensorflow as tf
index = d.parse_tf_config()["task"]["index"]
rng = np.random.default_rng(0)
x = rng.random((16, 16, 16, 3), dtype=np.float32)
y = np.eye(8, dtype=np.float32)[rng.integers(0, 8, (16, 16, 16))]
ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4, drop_remainder=True).repeat()
with strategy.scope():
    model = d._tiny_net(); model.compile(optimizer="sgd", loss="categorical_crossentropy")

class Started(tf.keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 0: Path(marker + str(index)).write_text("trained one step")
        if batch == 2 and index == 1 and mode == "hang": time.sleep(3600)   # alive (heartbeats go on), stuck
        time.sleep(0.02)

with d.raise_lost_worker():
    model.fit(ds, steps_per_epoch=10**6, epochs=1, verbose=0, callbacks=[Started()])
"""


@pytest.mark.parametrize("mode, timeout", [("kill", 30), ("hang", 12)])
def test_lost_worker_stops_the_other_within_the_timeout(tmp_path, mode, timeout):
    """Two localhost workers train for a million steps; worker 1 is SIGKILLed after its first step ("kill") or sleeps
    in the middle of training while its process stays up ("hang"). Worker 0 must report a `WorkerLostError` naming
    worker 1 and its address well within 3x the collective timeout, and exit non-zero.
    "kill" is noticed from the reset connection, whatever the timeout (measured 1.4-2.5 s on the 2-core machine), so
    its timeout is generous (no start-up skew between the workers can reach it); "hang" is stopped by the timeout
    itself, so it is short (12 s: the first steps, which both workers have passed, must fit in it). Once worker 0 has
    reported, the stuck worker is killed: TensorFlow's shutdown would otherwise wait ~20 s more for it."""
    marker = str(tmp_path / "started")
    procs, workers = start_workers([["-c", KEEP_TRAINING, marker, str(timeout), mode]] * 2)
    lines, reported = [], threading.Event()
    def read_worker0():
        for line in procs[0].stderr:
            lines.append(line)
            if line.startswith("p8seg.distribute.WorkerLostError: "): reported.set()
    reader = threading.Thread(target=read_worker0, daemon=True); reader.start()
    try:
        deadline = time.monotonic() + 240
        while not Path(marker + "1").exists():
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                for p in procs: p.kill()
                reader.join(10)
                pytest.fail(f"worker 1 did not train a step: {''.join(lines)[-2000:]} {procs[1].communicate()[1][-2000:]}")
            time.sleep(0.1)
        start = time.monotonic()
        if mode == "kill": procs[1].kill()           # SIGKILL: no chance to say goodbye
        while not reported.is_set() and procs[0].poll() is None:
            if time.monotonic() - start > 3 * timeout:
                pytest.fail(f"worker 0 still waits {3 * timeout} s after worker 1 was lost ({mode})")
            time.sleep(0.05)
        noticed = time.monotonic() - start
        procs[1].kill()
        procs[0].wait(timeout=120)
        reader.join(10)
    finally:
        for p in procs:
            if p.poll() is None: p.kill(); p.wait()
    err = "".join(lines)
    print(f"{mode}: worker 0 reported {noticed:.1f} s after worker 1 was lost")
    assert procs[0].returncode != 0
    if mode == "hang": assert noticed >= timeout - 2, noticed      # the timeout, not something else, stopped it
    crash = {-signal.SIGSEGV: "SIGSEGV", -signal.SIGABRT: "SIGABRT"}.get(procs[0].returncode)
    if crash and not reported.is_set():   # TF 2.21 crashes in its own abort of the collective: seen in 1 of 8 "hang" runs here
        # (SIGSEGV), and as SIGABRT in CI; the worker stopped all the same, and TensorFlow said why before it crashed
        assert "BaseCollectiveExecutor::StartAbort" in err, err[-3000:]
        if mode == "hang": assert "Collective has timed out" in err, err[-3000:]
        pytest.xfail(f"worker 0 stopped {noticed:.1f} s after the loss, but TensorFlow crashed ({crash}) while aborting "
                     "the failed collective, before p8seg could name the lost worker")
    last = next((l for l in reversed(err.strip().splitlines()) if l.startswith("p8seg.distribute.WorkerLostError: ")),
                f"no WorkerLostError (exit {procs[0].returncode}): {err[-3000:]}")
    if mode == "kill":
        assert f"lost worker 1 ({workers[1]}) of the multi-worker cluster" in last, last
    else:
        assert f"no answer from worker 1 ({workers[1]}) within the collective timeout of {timeout} s" in last, last
    assert f"this worker, worker 0 ({workers[0]})" in last and "rerun the same command on every worker" in last, last
