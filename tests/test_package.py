"Import-time guarantees of `p8seg/__init__.py` (environment for Keras 2, clear error when Keras 3 is loaded), and P8SEG_* read only through `p8seg.config`."
import re

from conftest import REPO, run_python as run_py


def test_import_sets_keras2_environment():
    r = run_py("import os, p8seg; print(os.environ['SM_FRAMEWORK'], os.environ['TF_USE_LEGACY_KERAS'])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["tf.keras", "1"]


def test_tf_keras_is_keras2_after_import():
    r = run_py("import p8seg, tensorflow as tf; print(tf.keras.__name__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("tf_keras"), r.stdout


def test_keras3_already_loaded_is_a_clear_error():
    r = run_py("import keras; import p8seg")
    assert r.returncode != 0
    assert "Keras 2" in r.stderr and "already imported" in r.stderr, r.stderr[-2000:]


ENV_READ = re.compile(r"""(os\.environ\.get|os\.getenv|os\.environ\.pop|os\.environ\.setdefault)\(\s*["']P8SEG_"""
                      r"""|os\.environ\[\s*["']P8SEG_\w+["']\s*\](?!\s*=[^=])|["']P8SEG_\w+["']\s+(not\s+)?in\s+os\.environ""")


def test_p8seg_variables_are_read_only_through_config():
    "Every `P8SEG_*` variable is read through `p8seg.config.env_value` (or an accessor built on it), never directly."
    assert ENV_READ.search('x = os.environ.get("P8SEG_DATA")') and ENV_READ.search("if 'P8SEG_DEBUG' in os.environ: pass")
    assert ENV_READ.search('os.environ["P8SEG_CACHE"] + "/x"') and not ENV_READ.search('os.environ["P8SEG_CACHE"] = d')
    files = [p for d in ("p8seg", "tests", "benchmarks", "tools") for p in sorted((REPO / d).glob("*.py"))]
    found = [f"{p.relative_to(REPO)}:{n}: {line.strip()}" for p in files if p.name != "config.py" or p.parent.name != "p8seg"
             for n, line in enumerate(p.read_text().splitlines(), 1) if ENV_READ.search(line) and p.name != "test_package.py"]
    assert len(files) > 20 and not found, "read P8SEG_* through p8seg.config.env_value:\n" + "\n".join(found)
