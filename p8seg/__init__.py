"""p8seg: Cityscapes 8-category segmentation for an embedded car vision module.

This file is the one hand-written module of the package (nbdev exports every other one from
`nbs/`).  It must run before anything imports TensorFlow: segmentation-models needs Keras 2,
which TensorFlow >= 2.16 provides as `tf_keras` only when `TF_USE_LEGACY_KERAS=1` is set
before `tf.keras` is first touched.
"""
__version__ = "0.1.0"

import os as _os
import sys as _sys

_os.environ.setdefault("SM_FRAMEWORK", "tf.keras")
_os.environ["TF_USE_LEGACY_KERAS"] = "1"
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")              # TensorFlow's C++ INFO/WARNING lines off
_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")          # albumentations would query the network on import

# TensorFlow's CPU kernels split their sums by the number of intra-op threads, and the split changes the float
# rounding: the same seeded run gives other numbers on a machine with another core count (focal_tversky seed 2 of
# results/camvid: 0.48844 first-epoch loss at 2 threads, 0.48880 at 1, 0.48902 at 4, 0.48840 at 16). Every committed
# result was trained on 2 cores, so p8seg runs TensorFlow on 2 intra-op threads wherever it runs, unless
# `P8SEG_THREADS` says otherwise (0: TensorFlow's default, one thread per core) or TF_NUM_INTRAOP_THREADS is set.
# TensorFlow reads the variable when its runtime starts, so it must be set here, before any TensorFlow op.
from p8seg.config import env_value as _env_value   # imports neither TensorFlow nor any other p8seg module
THREADS = (_env_value("P8SEG_THREADS") or "2").strip() or "2"
if THREADS != "0": _os.environ.setdefault("TF_NUM_INTRAOP_THREADS", THREADS)


def _check_keras():
    "Fail clearly if Keras 3 is already loaded: segmentation-models and our models need Keras 2 (`tf_keras`)."
    keras = _sys.modules.get("keras")
    version = getattr(keras, "__version__", "") if keras is not None else ""
    if version.startswith("3"):
        raise ImportError(
            f"p8seg needs Keras 2 (tf_keras) but Keras {version} is already imported in this process. "
            "Import p8seg before tensorflow/keras, or restart the Python process (in Colab: Runtime > "
            "Restart session) and run `import p8seg` first; TF_USE_LEGACY_KERAS=1 must be set before "
            "TensorFlow loads Keras.")


_check_keras()
