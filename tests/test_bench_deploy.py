"`benchmarks/bench_deploy.py` in its tiny mode: every architecture x size x variant row, the goals, the markdown file; its record of the machine."
import json, re, subprocess, sys

from conftest import REPO, subprocess_env

SCRIPT = REPO / "benchmarks" / "bench_deploy.py"
TINY = ["--runs", "2", "--warmup", "1", "--sizes", "32x64", "--archs", "unet_mini,lraspp_mobilenetv3"]
VARIANTS = ("keras", "tflite fp32", "tflite fp16", "tflite int8")


def bench_deploy_code(code: str) -> subprocess.CompletedProcess:
    "Run `code` in a fresh Python from the repository root (bench_deploy importable); checked to exit 0."
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                       env=subprocess_env())
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_bench_deploy_tiny(tmp_path):
    "Two architectures at 32x64: 140 s on the shared 2-core machine (load 8), nearly all in the six TFLite conversions."
    out = tmp_path / "deploy.md"
    r = subprocess.run([sys.executable, str(SCRIPT), *TINY, "--out", str(out)], cwd=REPO, capture_output=True,
                       text=True, timeout=600, env=subprocess_env())
    assert r.returncode == 0, r.stderr[-3000:]
    num = r"\d+\.\d+"
    for arch in ("unet_mini", "lraspp_mobilenetv3"):
        for variant in VARIANTS:
            row = rf"^{arch} +32x64 +{variant} +{num} +{num} +{num} +{num} +{num}x +{num} +{num}$"
            assert re.search(row, r.stdout, re.M), (arch, variant, r.stdout)
    assert re.search(r"\d+ CPUs visible \(.+, (avx512|avx2|avx|sse|unknown)\), load average", r.stdout), r.stdout  # the CPU named
    assert re.search(r"load average \(1 min\) \d+\.\d -> \d+\.\d, other processes \d+\.\d\d CPUs, niceness \d+, ",
                     r.stdout), r.stdout
    assert re.search(r"goal 'int8 file <= 1/3 of fp32': (NOT )?MET", r.stdout), r.stdout
    for arch in ("unet_mini", "lraspp_mobilenetv3"):
        assert re.search(rf"goal 'int8 >= 2x Keras at every size: {arch}': (NOT )?MET", r.stdout), r.stdout
    assert "goal '>= 30 fps at 256x512 int8: lraspp_mobilenetv3': NOT MEASURED" in r.stdout, r.stdout
    md = out.read_text().splitlines()
    assert md[0] == f"Written by `python benchmarks/bench_deploy.py {' '.join(TINY)} --out {out}`", md[0]
    rows = [line for line in md if line.startswith("| ") and "32x64" in line]
    assert len(rows) == 8, md
    assert {tuple(c.strip() for c in line.strip("|").split("|"))[:3] for line in rows} == {
        (a, "32x64", v) for a in ("unet_mini", "lraspp_mobilenetv3") for v in VARIANTS}


def test_bench_deploy_refused_size_is_padded(tmp_path):
    "A size the divisor refuses is padded up to the next accepted one (every camera pixel is computed; no conversion needed)."
    code = ("import sys; sys.path.insert(0, 'benchmarks'); import bench_deploy as b; "
            "print(b.padded_size((360, 480), 16), b.padded_size((360, 480), 32), b.padded_size((360, 480), 4), "
            "b.padded_size((20, 20), 32), b.padded_size((32, 33), 16))")
    r = bench_deploy_code(code)
    assert r.stdout.strip() == "(368, 480) (384, 480) (360, 480) (32, 32) (32, 48)", r.stdout


def test_machine_state():
    """Busy is other processes' CPU use during the run, not the load average (its own 2 threads raise that to about 2 on
    2 CPUs); without /proc/stat the load average decides; a niceness above 0 is a warning too."""
    code = ("import sys, json; sys.path.insert(0, 'benchmarks'); import bench_deploy as b; "
            "print(json.dumps([b.machine_state(2, (6.0, 7.0), 19, 1.734), b.machine_state(2, (0.1, 1.9), 0, 0.02), "
            "b.machine_state(2, (1.2, 0.3), 0, None), b.machine_state(16, (0.5, 2.0), 0, 1.5)]))")
    r = bench_deploy_code(code)
    (busy, busy_lines), (idle, idle_lines), (unknown, unknown_lines), (big, big_lines) = json.loads(r.stdout)
    assert busy == {"cpus": 2, "load_before": 6.0, "load_after": 7.0, "others_cpus": 1.734, "niceness": 19, "busy": True,
                    "result": False}
    assert busy_lines == [
        "WARNING: the machine is busy (other processes used 1.73 CPUs on average during the run, more than a tenth of the 2): "
        "absolute times are inflated, a warning and not a result (ratios and the min column suffer least)",
        "WARNING: niceness 19 (above 0): other work ran first; the times are a warning and not a result"]
    assert (idle["busy"], idle["result"], idle_lines) == (False, True, [])
    assert (unknown["busy"], unknown["result"], unknown["others_cpus"]) == (True, False, None)
    assert unknown_lines[0].startswith("WARNING: the machine is busy (load average above half the 2 CPUs)")
    assert (big["busy"], big["result"], big_lines) == (False, True, [])


def test_bench_alone_modes():
    """`benchmarks/bench_alone.py`: each mode runs its variants in bench_deploy's order and times the int8 frame only;
    the three modes take turns block by block (known sequence of calls for 2 blocks of 2 frames)."""
    code = ("import sys, json; sys.path.insert(0, 'benchmarks'); import bench_alone as b; calls = []; "
            "runners = {v: (lambda v=v: calls.append(v)) for v in ('keras', 'tflite fp32', 'tflite fp16', 'tflite int8')}; "
            "t = b.time_modes(runners, 2, 2); print(json.dumps([{m: len(x) for m, x in t.items()}, calls]))")
    counts, calls = json.loads(bench_deploy_code(code).stdout)
    assert counts == {"alone": 4, "after LiteRT": 4, "after all (bench_deploy)": 4}, counts
    block = (["tflite int8"] * 2 + ["tflite fp32", "tflite fp16", "tflite int8"] * 2
             + ["keras", "tflite fp32", "tflite fp16", "tflite int8"] * 2)
    assert calls == block * 2, calls


def test_bench_softmax_times_and_scores_both_files(tiny_setup, tmp_path):
    """`benchmarks/bench_softmax.py` on a tiny trained-size model: both int8 files timed (the first the baseline, 1.00x),
    and scored beside Keras on val, each gap its mIoU minus Keras'; a bad option is one line, exit 2."""
    _, root, model_path = tiny_setup
    out = tmp_path / "softmax.md"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_softmax.py"), "--model", str(model_path), "--data",
                        str(root), "--calib", "2", "--blocks", "2", "--frames", "2", "--warmup", "1", "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert r.returncode == 0, r.stderr[-3000:]
    md = out.read_text()
    timing = re.findall(r"^\| 32x64 \| (int8[^|]*) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|$", md, re.M)
    assert [t[0].strip() for t in timing] == ["int8", "int8, float softmax"], md
    assert timing[0][4] == "1.00", md
    scores = re.findall(r"^\| val \| ([^|]+) \| ([\d.]+) \| ([^|]*) \|$", md, re.M)
    assert [s[0].strip() for s in scores] == ["keras", "int8", "int8, float softmax"], md
    keras = float(scores[0][1])
    for _, miou, gap in scores[1:]: assert abs(float(gap) - (float(miou) - keras)) <= 1.5e-4, md
    bad = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_softmax.py"), "--unseen", "0006R0"],
                         cwd=REPO, capture_output=True, text=True, timeout=60, env=subprocess_env())
    assert bad.returncode == 2 and "--unseen scores a model: give --model" in bad.stderr, bad.stderr
