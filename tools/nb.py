"""README.md from nbs/index.ipynb (the notebook is the source of truth):

    python tools/nb.py readme
    python tools/nb.py tutorial     # re-run nbs/tutorial.ipynb and save its outputs (minutes on a CPU)

Markdown cells are copied as they are, code cells become python blocks (nbdev directives dropped); the line
`<!-- env-table -->` becomes the table of `p8seg.config.ENV_VARS`, so the README never retypes it. Edit notebooks
as JSON or in Jupyter, never through a text round trip: a tutorial's saved outputs must survive an edit.
"""
import json, sys
from pathlib import Path

ENV_MARK = "<!-- env-table -->"

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
            if ENV_MARK in src:
                from p8seg.config import env_table
                src = src.replace(ENV_MARK, env_table())
            parts.append(src)
        else:
            code = "\n".join(l for l in src.split("\n") if not l.startswith("#|")).strip()
            if code: parts.append("```python\n" + code + "\n```")
    return "\n\n".join(parts) + "\n"

ORIGINAL_SETTINGS_MARK = "SETTINGS = dict(img_size=(256, 256)"   # the tutorial's cell of the original notebook's settings

def skipped_in_record(cell) -> bool:
    "Cells `tutorial` does not run: `#| eval: false` (Colab set-up) and the original-settings cell (a GPU's hours)."
    src = "".join(cell.get("source", ""))
    return cell.get("cell_type") != "code" or "#| eval: false" in src or ORIGINAL_SETTINGS_MARK in src

def run_tutorial(nb_path):
    "Run the tutorial top to bottom in one kernel-less shell (from `nbs/`, as nbdev-test does) and save its outputs."
    import os
    from execnb.shell import CaptureShell, read_nb, write_nb
    nb = read_nb(nb_path)
    old = os.getcwd(); os.chdir(Path(nb_path).parent)
    try: CaptureShell().run_all(nb, exc_stop=True, preproc=skipped_in_record)
    finally: os.chdir(old)
    write_nb(nb, nb_path)

if __name__ == "__main__":
    if sys.argv[1:] not in (["readme"], ["tutorial"]): sys.exit(__doc__)
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    if sys.argv[1] == "tutorial":
        run_tutorial(root / "nbs" / "tutorial.ipynb"); print("ran nbs/tutorial.ipynb and saved its outputs"); sys.exit()
    (root / "README.md").write_text(nb_to_readme(root / "nbs" / "index.ipynb"))
