"`benchmarks/report.py`: a benchmark's lines printed as they come, kept, and written under the command that made them."
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from report import Report  # noqa: E402


def test_report_prints_keeps_and_writes_under_its_command(tmp_path, capsys):
    say = Report()
    say("cores: 2"); say(); say("ratio 3.0x")
    assert capsys.readouterr().out == "cores: 2\n\nratio 3.0x\n"
    assert say.lines == ["cores: 2", "", "ratio 3.0x"]
    out = tmp_path / "bench" / "bench_x.txt"                 # its folder is made
    say.write(out, "benchmarks/bench_data.py", ["--n", "8", "--out", "a b.txt"])
    assert out.read_text() == "Written by `python benchmarks/bench_data.py --n 8 --out 'a b.txt'`\n\ncores: 2\n\nratio 3.0x\n"


def test_the_benchmarks_that_print_a_report_use_it():
    "bench_data and bench_pipeline keep no report code of their own."
    for name in ("bench_data.py", "bench_pipeline.py"):
        src = (Path(__file__).resolve().parents[1] / "benchmarks" / name).read_text()
        assert "say = Report()" in src and "def say" not in src and "say.write(args.out" in src
