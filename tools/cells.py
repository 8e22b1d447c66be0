"""The shape of the source, from the notebooks and the package (reproducible figures):

    python tools/cells.py            # export cells' lines (median, 90th percentile, longest), share with 2+ defs (one def a cell),
                                     # functions over 45 lines, the largest cells

An export cell is a code cell of `nbs/*.ipynb` whose first directives include `#| export` (or `#| exports`);
its lines are the non-blank lines after the directives. A def is a `def`/`async def`/`class` at the cell's top level
(nested helpers are part of their function). A function's length is its line span in `p8seg/*.py`, decorators excluded.
"""
import ast, json, re, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 45

def export_cells(nbs=ROOT / "nbs"):
    "Yield (notebook name, source) for every export cell of the notebooks under `nbs`."
    for nb in sorted(nbs.glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and re.search(r"^#\|\s*exports?\b", src, re.M): yield nb.name, src

def code_lines(src):
    "The cell's non-blank lines that are not nbdev directives."
    return [l for l in src.splitlines() if l.strip() and not l.startswith("#|")]

def top_defs(src):
    "Names of the top-level defs and classes of a cell (0 when it does not parse, e.g. cell magics)."
    try: tree = ast.parse("\n".join(l for l in src.splitlines() if not l.startswith(("%", "!"))))
    except SyntaxError: return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]

def long_functions(pkg=ROOT / "p8seg", limit=LIMIT):
    "(module.function, lines) for every function of the package longer than `limit` lines, longest first."
    out = []
    for py in sorted(pkg.glob("*.py")):
        if py.name == "_modidx.py": continue
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit: out.append((f"{py.stem}.{node.name}", n))
    return sorted(out, key=lambda t: -t[1])

def report(top=8):
    "Print the figures."
    cells = [(nb, src, len(code_lines(src)), len(top_defs(src))) for nb, src in export_cells()]
    sizes = sorted(c[2] for c in cells)
    p90 = sizes[int(0.9 * (len(sizes) - 1))]
    many = [c for c in cells if c[3] >= 2]
    print(f"export cells: {len(cells)}  median lines {statistics.median(sizes):g}  90th percentile {p90}  longest {sizes[-1]}")
    print(f"cells with 2+ defs: {len(many)} ({100 * len(many) / len(cells):.0f} %)")
    for nb, src, n, d in sorted(many, key=lambda c: -c[3]): print(f"  {nb}: {n} lines, {d} defs ({', '.join(top_defs(src))})")
    long = long_functions()
    print(f"functions over {LIMIT} lines: {len(long)}")
    for name, n in long: print(f"  {name}: {n}")
    print(f"largest export cells:")
    for nb, src, n, d in sorted(cells, key=lambda c: -c[2])[:top]: print(f"  {nb}: {n} lines, {d} defs ({', '.join(top_defs(src)[:4])})")

if __name__ == "__main__":
    import signal; signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # quiet under `| head`
    report(*map(int, sys.argv[1:2]))
