"`benchmarks/bench_gpu.py` runs every code path with `--tiny` on the CPU, and exits cleanly without a GPU."
import os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_gpu.py"


def _run(*args, timeout=240, **env):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env})


def test_bench_gpu_tiny():
    "The tiny setting trains through both sources, both precisions (mixed precision measured, on the CPU too)."
    r = _run("--tiny")
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    num = r"\d+(\.\d+)?"
    assert re.search(rf"^float32 .*{num} i/s .*{num} i/s .*{num}x", out, re.M), out
    assert re.search(rf"^mixed_float16 .*{num} i/s .*{num} i/s .*{num}x", out, re.M), out
    assert re.search(rf"ratio make_dataset / original: float32 {num}x, mixed precision {num}x", out), out
    assert "projection: 5 losses x 10 epochs x 2975 images" in out, out
    assert re.search(rf"float32: make_dataset {num} s per loss \({num}x faster than the original 4700 s\)", out), out
    assert "GPU utilisation during the make_dataset run" in out, out
    if "device: CPU" in out: assert "not readable" in out, out


def test_bench_gpu_no_gpu_exits_cleanly():
    "Without a GPU and without --tiny it says so and exits 0 before making any data."
    r = _run(timeout=120, CUDA_VISIBLE_DEVICES="-1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("no GPU found:"), r.stdout
    assert "data:" not in r.stdout
