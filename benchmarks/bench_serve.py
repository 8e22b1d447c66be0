"""Throughput and latency of `p8seg serve` on this machine: requests/s, p50/p95 latency and errors at concurrency 1 and 8.

    python benchmarks/bench_serve.py                              # untrained unet_mini 256x512, a synthetic 256x512 photo
    python benchmarks/bench_serve.py --model runs/x/model.keras --photo street.png --requests 200 --max-seconds 120
    python benchmarks/bench_serve.py --tiny                       # seconds: a 32x64 model, a few requests (a smoke test)

The server is the real command (`p8seg serve MODEL --port P`) in a subprocess on a free port of
127.0.0.1; every request goes to 127.0.0.1 and nowhere else. Each concurrency level sends at most
`--requests` requests of `POST /predict` (the category PNG) and stops early after `--max-seconds`;
the first `--warmup` answers are not counted. The in-process baseline is `p8seg.inference.predict`
on the same photo with the same model, timed in this process before the server starts (so the two
never share the CPU); `p50 ratio` is the served p50 at concurrency 1 over that baseline: what HTTP,
multipart, decoding from the upload and PNG encoding add. Inference is serialised by a lock in the
server (a LiteRT interpreter is not thread-safe), so concurrency 8 measures queueing, not parallel
inference. Latency does not depend on the weights, so an untrained model is fine.
"""
import argparse, json, os, socket, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"            # the only address this benchmark talks to


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="saved model (.keras, SavedModel, .tflite); default: an untrained unet_mini of --size")
    p.add_argument("--size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"), help="model input size without --model")
    p.add_argument("--photo", help="photo to send (default: a synthetic street scene of --size)")
    p.add_argument("--requests", type=int, default=60, help="most requests per concurrency level (default 60)")
    p.add_argument("--max-seconds", type=float, default=60, help="stop a level after this long (default 60)")
    p.add_argument("--concurrency", default="1,8", help="comma-separated client threads (default 1,8)")
    p.add_argument("--warmup", type=int, default=3, help="requests (and in-process predictions) not counted")
    p.add_argument("--tiny", action="store_true", help="a 32x64 model and 6 requests per level: a quick check that it runs")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.tiny: args.size, args.requests, args.warmup = (32, 64), min(args.requests, 6), 1
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def percentile(values, q):
    import numpy as np
    return float(np.percentile(values, q)) if values else float("nan")


def inputs(args, folder: Path):
    "(model path, photo path): the given ones, or an untrained unet_mini and a synthetic photo written to `folder`."
    import p8seg  # noqa: F401  (Keras 2 before TensorFlow)
    model_path, photo = args.model, args.photo
    if model_path is None:
        import tensorflow as tf
        from p8seg.models import unet_mini
        tf.keras.utils.set_random_seed(0)
        model_path = folder / "bench.keras"
        unet_mini(input_size=(*args.size, 3)).save(model_path)
    if photo is None:
        from p8seg.synth import make_synthetic_cityscapes
        from p8seg.sources import load_file_paths
        root = make_synthetic_cityscapes(folder / "data", n_train=1, n_val=1, n_test=0, size=tuple(args.size), seed=0)
        photo = load_file_paths(root, "val")[0][0]
    return Path(model_path), Path(photo)


def in_process_predict(model_path, photo, runs, warmup) -> float:
    "Median seconds of `p8seg.inference.predict` on the photo (decoded once), in this process."
    from p8seg.inference import load_model, predict, read_photo
    model, image = load_model(model_path), read_photo(photo)
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        predict(model, [image])
        if i >= warmup: times.append(time.perf_counter() - start)
    return percentile(times, 50)


def start_server(model_path, port, log):
    "`p8seg serve MODEL --host 127.0.0.1 --port PORT` in a subprocess; returns it once /health answers."
    import httpx
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from p8seg.cli import main; sys.exit(main())",
                             "serve", str(model_path), "--host", HOST, "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None: raise SystemExit(f"p8seg serve exited with status {proc.returncode} (see {log.name})")
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=2).status_code == 200: return proc
        except httpx.HTTPError: pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"p8seg serve did not answer within 300 s (see {log.name})")


def load_level(url, body: bytes, name: str, concurrency: int, n_requests: int, max_seconds: float, warmup: int) -> dict:
    "Send up to `n_requests` POST /predict from `concurrency` threads (stopping after `max_seconds`); the figures."
    import httpx
    assert url.startswith(f"http://{HOST}:"), url
    with httpx.Client(base_url=url, timeout=120) as http:                       # warm the server up, not counted
        for _ in range(warmup): http.post("/predict", files={"file": (name, body)})
    lock, sent, results = threading.Lock(), [0], []
    deadline = time.monotonic() + max_seconds

    def worker(_):
        with httpx.Client(base_url=url, timeout=120) as http:
            while True:
                with lock:
                    if sent[0] >= n_requests or time.monotonic() > deadline: return
                    sent[0] += 1
                start = time.perf_counter()
                try: ok = http.post("/predict", files={"file": (name, body)}).status_code == 200
                except httpx.HTTPError: ok = False
                with lock: results.append((time.perf_counter() - start, ok))

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool: list(pool.map(worker, range(concurrency)))
    wall = time.perf_counter() - start
    latencies = [t for t, ok in results if ok]
    return {"concurrency": concurrency, "requests": len(results), "errors": sum(not ok for _, ok in results),
            "seconds": wall, "requests_per_s": len(latencies) / wall if wall else float("nan"),
            "p50_ms": percentile(latencies, 50) * 1e3, "p95_ms": percentile(latencies, 95) * 1e3}


def main(argv=None):
    args = parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        model_path, photo = inputs(args, Path(tmp))
        import cv2
        h, w = cv2.imread(str(photo)).shape[:2]
        baseline = in_process_predict(model_path, photo, runs=max(5, min(30, args.requests)), warmup=args.warmup)
        port = free_port()
        url = f"http://{HOST}:{port}"
        with open(Path(tmp) / "serve.log", "w") as log:
            proc = start_server(model_path, port, log)
            try:
                rows = [load_level(url, photo.read_bytes(), photo.name, c, args.requests, args.max_seconds, args.warmup)
                        for c in levels]
            finally:
                proc.terminate()
                try: proc.wait(20)
                except subprocess.TimeoutExpired: proc.kill()
    first = next((r for r in rows if r["concurrency"] == 1), rows[0])
    ratio = first["p50_ms"] / (baseline * 1e3)
    print(f"model {model_path.name if args.model else f'unet_mini {args.size[0]}x{args.size[1]} (untrained)'}, "
          f"photo {w}x{h} (WxH), {os.cpu_count()} CPUs, server on {HOST}:{port}")
    print(f"in-process predict: p50 {baseline * 1e3:.1f} ms")
    print("| concurrency | requests | errors | requests/s | p50 ms | p95 ms |\n|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['concurrency']} | {r['requests']} | {r['errors']} | {r['requests_per_s']:.2f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} |")
    print(f"p50 at concurrency {first['concurrency']} / in-process predict: {ratio:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": str(model_path) if args.model else f"unet_mini {args.size}",
            "photo": [h, w], "predict_p50_ms": baseline * 1e3, "levels": rows, "p50_ratio": ratio}, indent=1))
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
