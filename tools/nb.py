"""Round-trip between nbdev notebooks and a percent-format text file (a dev convenience).

    python tools/nb.py topy nbs/01_data.ipynb  > /tmp/01_data.py   # read/edit as text
    python tools/nb.py tonb /tmp/01_data.py nbs/01_data.ipynb        # write the notebook back
    python tools/nb.py readme                                          # README.md from nbs/index.ipynb

Cells are separated by lines `# %%` (code) and `# %% [markdown]` (markdown; each line of the
markdown body is written as `# text`).  The notebook is the source of truth; run
`nbdev-export` after writing it.  Outputs are not kept (nbdev-clean would drop most anyway).
"""
import json, sys
from pathlib import Path

def nb_to_py(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    out = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            out.append("# %% [markdown]\n" + "\n".join(("# " + l) if l else "#" for l in src.split("\n")))
        else:
            out.append("# %%\n" + src)
    return "\n\n".join(out) + "\n"

def py_to_nb(text):
    cells, kind, lines = [], None, []
    def flush():
        if kind is None: return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l[1:] if l.startswith("#") else l for l in body.split("\n"))
        src = body.splitlines(keepends=True)
        cell = {"cell_type": kind, "metadata": {}, "source": src}
        if kind == "code": cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    for line in text.split("\n"):
        if line.startswith("# %%"):
            flush(); lines = []
            kind = "markdown" if "[markdown]" in line else "code"
        else:
            lines.append(line)
    flush()
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}

def keep_cell_ids(old, new):
    "Give `new`'s cells the ids of `old`'s cells with the same source, else of the cell at the same place (small diffs)."
    old_cells = old.get("cells", [])
    by_source = {"".join(c["source"]): c.get("id") for c in old_cells if c.get("id")}
    used = set()
    for i, cell in enumerate(new["cells"]):
        cid = by_source.get("".join(cell["source"]))
        if cid is None and i < len(old_cells): cid = old_cells[i].get("id")
        if cid and cid not in used: cell["id"] = cid; used.add(cid)
    return new

def nb_to_readme(nb_path):
    "Markdown of the index notebook: markdown cells as they are, code cells as python blocks (directives dropped)."
    nb = json.loads(Path(nb_path).read_text())
    parts = ["<!-- Made from nbs/index.ipynb by `python tools/nb.py readme`: edit the notebook, not this file. -->"]
    for cell in nb["cells"]:
        src = "".join(cell["source"]).strip("\n")
        if cell["cell_type"] == "markdown":
            if src.startswith("# ") and "\n> " in src:  # nbdev title cell: '# Title' + '> summary'
                title, summary = src.split("\n", 1)
                src = title + "\n\n" + summary.strip().lstrip("> ")
            parts.append(src)
        else:
            code = "\n".join(l for l in src.split("\n") if not l.startswith("#|")).strip()
            if code: parts.append("```python\n" + code + "\n```")
    return "\n\n".join(parts) + "\n"

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "topy": sys.stdout.write(nb_to_py(sys.argv[2]))
    elif cmd == "tonb":
        target = Path(sys.argv[3])
        nb = py_to_nb(Path(sys.argv[2]).read_text())
        if target.exists(): keep_cell_ids(json.loads(target.read_text()), nb)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    elif cmd == "readme":
        root = Path(__file__).resolve().parent.parent
        (root / "README.md").write_text(nb_to_readme(root / "nbs" / "index.ipynb"))
    else: sys.exit(__doc__)
