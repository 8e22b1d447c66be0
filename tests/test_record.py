"""The record points only at things that exist: every repository path named in the notebooks' source cells, the
README, the docstrings of `p8seg/*.py` and the text of `tests/`, `tools/`, `benchmarks/` and `.ci/run` is a file or
folder of this checkout (or an output a command writes, which git ignores)."""
import ast, json, re, subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOP = ("nbs", "tests", "benchmarks", "results", "p8seg", "tools", ".ci")
# a repository-relative path: one of the top folders, then names; not the tail of a longer path (`~/.cache/p8seg/x`,
# `../nbs/x`), nor a module or attribute name (`p8seg.data`)
PATH = re.compile(r"(?<![\w./~-])((?:%s)/[\w.*-]+(?:/[\w.*-]+)*/?)" % "|".join(re.escape(t) for t in TOP))


def docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text())
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return "\n".join(filter(None, (ast.get_docstring(n) for n in nodes)))


def notebook_sources(path: Path) -> str:
    "The source of every cell (not the outputs: they may quote paths of the machine that ran them)."
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])


def texts() -> dict:
    "{name: text} of everything a reader follows pointers from."
    out = {p.relative_to(REPO).as_posix(): notebook_sources(p) for p in sorted((REPO / "nbs").glob("*.ipynb"))}
    out["README.md"] = (REPO / "README.md").read_text()
    out.update({p.relative_to(REPO).as_posix(): docstrings(p) for p in sorted((REPO / "p8seg").glob("*.py"))})
    for folder in ("tests", "tools", "benchmarks"):
        out.update({p.relative_to(REPO).as_posix(): p.read_text() for p in sorted((REPO / folder).glob("*.py"))})
    out[".ci/run"] = (REPO / ".ci" / "run").read_text()
    return out


def mentioned_paths(text: str) -> set:
    return {m.rstrip(".") for m in PATH.findall(text)}


def git_ignored(paths) -> set:
    "The paths git ignores (outputs that a command writes, e.g. a model under results/); empty without git."
    if not paths: return set()
    try:
        r = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO, input="\n".join(paths),
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    return set(r.stdout.split())


def test_the_pattern_finds_repository_paths_only():
    text = ("see `nbs/09_distribute.ipynb`, tests/test_cli.py and results/camvid/. Not ~/.cache/p8seg/arrays, "
            "../nbs/00_labels.ipynb or p8seg.data.read_image; p8seg/files.py")
    assert mentioned_paths(text) == {"nbs/09_distribute.ipynb", "tests/test_cli.py", "results/camvid/", "p8seg/files.py"}


def test_every_mentioned_path_exists():
    named = {}
    for source, text in texts().items():
        for path in mentioned_paths(text):
            if "*" in path: continue                          # a glob (`nbs/*.ipynb`) names no one file
            named.setdefault(path, []).append(source)
    missing = {p: s for p, s in named.items() if not (REPO / p).exists()}
    missing = {p: s for p, s in missing.items() if p not in git_ignored(list(missing))}
    assert len(named) > 30, sorted(named)                     # the pattern does find the record's pointers
    assert not missing, "paths named but not in the repository: " + "; ".join(
        f"{p} (in {', '.join(sorted(set(s)))})" for p, s in sorted(missing.items()))


def test_no_issue_numbers_in_code_and_docstrings():
    "The record says what and why, not which ticket: 'issue 12'-style references say nothing to a reader."
    found = [f"{name}: {line.strip()[:100]}" for name, text in texts().items() for line in text.splitlines()
             if re.search(r"\bissues? #?\d+", line, re.I) and name != "tests/test_record.py"]
    assert not found, found


# an absolute path of the machine that ran something: a home, a cache or a work folder
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:root|home/[\w.-]+|Users/[\w.-]+|work|check|scratch)/"
                          r"|(?<![\w.~-])/(?:[\w.-]+/)*\.cache/")


def tracked_text_files() -> dict:
    "{path: text} of every file git tracks that is text (a notebook whole, outputs included)."
    try:
        r = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git is not available")
    if r.returncode: pytest.skip("not a git checkout")
    out = {}
    for name in filter(None, r.stdout.decode().split("\0")):
        try: data = (REPO / name).read_bytes()
        except OSError: continue                               # deleted in the working tree
        if b"\0" in data[:8192]: continue                      # binary (a model, a figure)
        try: out[name] = data.decode()
        except UnicodeDecodeError: continue
    return out


def test_the_machine_path_pattern():
    bad = ["data /work/shared/data/camvid;", "in /root/.cache/p8seg/arrays/x", "/home/ana/CamVid", "/opt/x/.cache/p8seg"]
    good = ["../shared/data/camvid", "~/.cache/p8seg", "sqlite:////tmp/x/mlflow.db", "/content/drive/MyDrive", "nbs/index.ipynb"]
    assert [bool(MACHINE_PATH.search(t)) for t in bad + good] == [True] * len(bad) + [False] * len(good)


def test_no_machine_paths_in_tracked_files():
    "Results, notebooks (their saved outputs too) and docs name data as the user gave it, never this machine's folders."
    files = tracked_text_files()
    assert len(files) > 50
    found = [f"{name}: …{m.string[max(0, m.start() - 40):m.end() + 40]!r}…" for name, text in files.items()
             if name != "tests/test_record.py" for m in [MACHINE_PATH.search(text)] if m]
    assert not found, "absolute machine paths committed:\n" + "\n".join(found)


def test_every_environment_variable_is_listed_once():
    "`p8seg.config.ENV_VARS` is the one list of the `P8SEG_*` variables: every name used anywhere is in it."
    from p8seg.config import ENV_VARS
    used = {v for text in tracked_text_files().values() for v in re.findall(r"\bP8SEG_[A-Z_]+[A-Z]\b", text)}
    assert len(used) >= 5 and not used - set(ENV_VARS), sorted(used - set(ENV_VARS))


def test_every_results_file_names_the_command_that_wrote_it():
    "Each markdown/text report under results/ opens with `Written by `<command>``; every other file (tables, figures, "
    "runs, models) sits in a folder whose report does, or is named in one."
    written = re.compile(r"^(<!-- )?Written by `[^`]+`")
    tracked = set(tracked_text_files()) | {p.relative_to(REPO).as_posix() for p in (REPO / "results").rglob("*.png")}
    tracked -= set(git_ignored(sorted(tracked)))
    reports = [REPO / n for n in sorted(tracked) if n.startswith("results/") and n.endswith((".md", ".txt"))]
    assert reports
    unnamed = [p.relative_to(REPO).as_posix() for p in reports if not written.match(p.read_text())]
    assert not unnamed, f"reports that do not name their command on their first line: {unnamed}"
    orphans = []
    for name in sorted(n for n in tracked if n.startswith("results/")):
        path = REPO / name
        if path.suffix in (".md", ".txt"): continue
        own = path.with_suffix(".md")                          # a JSON beside the markdown made with it
        if own.exists() and written.match(own.read_text()): continue
        folders = [path.parent, *path.parents]
        folders = folders[:folders.index(REPO / "results")]
        if not any(written.match(r.read_text()) for f in folders for r in [*f.glob("*.md"), *f.glob("*.txt")]):
            orphans.append(name)
    assert not orphans, f"files under results/ with no report naming their command: {orphans}"
