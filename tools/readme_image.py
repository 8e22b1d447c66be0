"Make nbs/images/example.png for the README: a synthetic street scene, its colorized category mask, and the overlay."
import tempfile
from pathlib import Path
import cv2, numpy as np
import p8seg
from p8seg.synth import make_synthetic_cityscapes
from p8seg.sources import load_file_paths
from p8seg.data import read_image, read_label_ids
from p8seg.labels import remap_mask, colorize, overlay

with tempfile.TemporaryDirectory() as tmp:
    root = make_synthetic_cityscapes(tmp, n_train=1, n_val=0, n_test=0, size=(256, 512), seed=0)
    images, masks = load_file_paths(root, "train")
    image = read_image(images[0]); categories = remap_mask(read_label_ids(masks[0]))
row = np.concatenate([image, colorize(categories), overlay(image, categories)], axis=1)
out = Path(__file__).resolve().parent.parent / "nbs" / "images" / "example.png"
cv2.imwrite(str(out), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
print(out)
