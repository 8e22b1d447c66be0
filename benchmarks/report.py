"""A benchmark's report: its lines printed as they come and kept, then (with `--out FILE`) written to FILE under the
command that made them, so every report file under `results/` names its command on its first line."""
import shlex
from pathlib import Path


class Report:
    "Print each line as it comes and keep it; `write` puts them in a file under the command that made them."
    def __init__(self): self.lines = []

    def __call__(self, line=""):
        "Print a line of the report (and keep it for --out)."
        print(line, flush=True); self.lines.append(line)

    def write(self, path, script, argv):
        "Write the kept lines to `path`, first `Written by `python <script> <argv>``, then a blank line."
        path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
        command = shlex.join(["python", script, *argv])
        path.write_text(f"Written by `{command}`\n\n" + "\n".join(self.lines) + "\n")
