"""README.md from nbs/index.ipynb (the notebook is the source of truth):

    python tools/nb.py readme

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

if __name__ == "__main__":
    if sys.argv[1:] != ["readme"]: sys.exit(__doc__)
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    (root / "README.md").write_text(nb_to_readme(root / "nbs" / "index.ipynb"))
