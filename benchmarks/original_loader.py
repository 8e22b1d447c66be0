"""The seed (original) notebook's way of feeding Keras, reproduced for the benchmarks only.

A `tf.keras.utils.Sequence` that, for every batch, for every sample, decodes the full-resolution
`_leftImg8bit.png` photo and `_gtFine_labelIds.png` mask with OpenCV, resizes both to the training
size, remaps labelIds to the 8 categories with a Python loop over the ids of `class_to_group`
(one boolean mask per id), and one-hots the mask to float32 with NumPy. No cache: every epoch
decodes every file again. `on_epoch_end` reshuffles.

This is not part of the library (p8seg feeds Keras with `p8seg.data.make_dataset`); it is the
baseline that `bench_data.py` and `bench_gpu.py` measure p8seg against. Import it from a script in
`benchmarks/` (`from original_loader import DataGenerator`).
"""
from __future__ import annotations
import math
from pathlib import Path
import sys

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path: sys.path.insert(0, str(REPO))

import p8seg  # noqa: F401  (Keras 2 environment before anything loads TensorFlow)
import cv2
import numpy as np
import tensorflow as tf
from p8seg.labels import class_to_group, N_CATEGORIES


def remap_loop(mask: np.ndarray) -> np.ndarray:
    "The original notebook's remap: one boolean mask per labelId."
    out = np.zeros_like(mask)
    for label_id, category in class_to_group.items():
        out[mask == label_id] = category
    return out


def load_batch(image_paths, mask_paths, img_size):
    "One batch the original notebook's way: decode full-res PNGs, resize, loop remap, float32 one-hot."
    h, w = img_size
    images, masks = [], []
    for image_path, mask_path in zip(image_paths, mask_paths):
        image = cv2.cvtColor(cv2.imread(str(image_path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        image = cv2.resize(image, (w, h)).astype(np.float32) / 255.0
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        mask = remap_loop(mask)
        images.append(image)
        masks.append(np.eye(N_CATEGORIES, dtype=np.float32)[mask])
    return np.stack(images), np.stack(masks)


class DataGenerator(tf.keras.utils.Sequence):
    "The original notebook's Keras `Sequence`: each batch decoded from the full-size PNGs by `load_batch`; reshuffled each epoch."
    def __init__(self, image_paths, mask_paths, batch_size=16, img_size=(256, 256), shuffle=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        if len(image_paths) != len(mask_paths):
            raise ValueError(f"DataGenerator: {len(image_paths)} images but {len(mask_paths)} masks")
        self.image_paths, self.mask_paths = list(image_paths), list(mask_paths)
        self.batch_size, self.img_size, self.shuffle = batch_size, tuple(img_size), shuffle
        self.rng = np.random.default_rng(seed)
        self.indices = np.arange(len(self.image_paths))
        self.on_epoch_end()

    def __len__(self): return math.ceil(len(self.image_paths) / self.batch_size)

    def __getitem__(self, index):
        idx = self.indices[index * self.batch_size:(index + 1) * self.batch_size]
        return load_batch([self.image_paths[i] for i in idx], [self.mask_paths[i] for i in idx], self.img_size)

    def on_epoch_end(self):
        if self.shuffle: self.rng.shuffle(self.indices)
