"The pretrained encoders end to end: `p8seg train` fine-tunes EfficientNet-Lite0 offline, the recipe options act as said, int8 keeps the scores."
import json

import numpy as np
import pytest

from conftest import run_p8seg, run_python, one_line


@pytest.fixture(scope="module")
def finetuned(synthetic_data, tmp_path_factory):
    "A 1-epoch fine-tune of FPN-lite on ImageNet Lite0 at 64x96 with the encoder at a tenth of the lr and frozen BatchNorm."
    out = tmp_path_factory.mktemp("lite")
    r = run_p8seg("train", "--data", synthetic_data, "--arch", "fpn_lite", "--encoder-weights", "imagenet",
                  "--img-size", "64x96", "--epochs", "1", "--batch-size", "4", "--lr", "0.001", "--encoder-lr", "0.1",
                  "--freeze-bn", "--ignore-void", "--out", out, "--quiet", timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return out / "runs" / "total" / "seed0"


def test_finetune_records_its_options_and_keeps_frozen_statistics(finetuned):
    config = json.loads((finetuned / "run.json").read_text())["config"]
    assert (config["arch"], config["backbone"], config["encoder_weights"]) == ("fpn_lite", None, "imagenet")
    assert (config["encoder_lr"], config["freeze_bn"]) == (0.1, True)
    code = f"""
import numpy as np
from p8seg.train import load_model_file
from p8seg.weights import encoder_state_dict
sd = encoder_state_dict("lite0")
enc = load_model_file({str(finetuned / "model.keras")!r}).get_layer("efficientnet_lite0")
gamma, beta, mean, var = enc.get_layer("stem_bn").get_weights()
kernel = enc.get_layer("stem_conv").get_weights()[0]
print(np.array_equal(mean, sd["_bn0.running_mean"]), np.array_equal(var, sd["_bn0.running_var"]),
      np.array_equal(gamma, sd["_bn0.weight"]), np.array_equal(kernel, sd["_conv_stem.weight"].transpose(2, 3, 1, 0)))
"""
    r = run_python(code)
    assert r.returncode == 0, r.stderr[-2000:]
    # frozen BatchNorm: ImageNet statistics and scale kept; the convolution trained
    assert r.stdout.split() == ["True", "True", "True", "False"]


def test_finetuned_int8_within_tolerance(finetuned, synthetic_data, tmp_path):
    r = run_p8seg("export", finetuned / "model.keras", "--format", "tflite", "--quantize", "int8", "--data",
                  synthetic_data, "--out", tmp_path / "m.tflite", "--check", timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "tflite-int8" in r.stdout


def test_encoder_options_need_an_encoder(tmp_path):
    r = run_p8seg("train", "--arch", "unet_mini", "--encoder-lr", "0.1", "--out", tmp_path)
    assert r.returncode != 0 and "encoder_lr and freeze_bn act on the nested EfficientNet-Lite encoder" in one_line(r.stderr.strip().splitlines()[-1])


def test_unknown_variant_is_one_line():
    from p8seg.models import build_model
    with pytest.raises(ValueError) as e:
        build_model("fpn_lite", backbone="efficientnet_lite7", input_size=(64, 96, 3))
    assert "efficientnet_lite0, efficientnet_lite1, efficientnet_lite2" in one_line(e)


def test_no_torch_anywhere():
    "Building a pretrained network reads the weights without importing torch (nothing in p8seg imports it)."
    r = run_python("import sys; from p8seg.models import build_model; "
                   "build_model('lraspp', input_size=(64, 96, 3), encoder_weights='imagenet'); "
                   "import p8seg.train, p8seg.serve, p8seg.export; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "[]", r.stdout + r.stderr[-1000:]
