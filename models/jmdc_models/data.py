"""Datasets: Fashion-MNIST from IDX gz files and CIFAR-10 from its python pickle batches.

Images are kept as uint8 arrays [N, C, H, W] (already padded to the network's input size);
normalization happens on the fly so the same code path serves training, export and golden files.
"""
from __future__ import annotations

import gzip
import os
import pickle
import struct
from dataclasses import dataclass, field

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]


@dataclass
class Normalization:
    """uint8 image -> float: pad with `pad_value` by `pad` pixels per side, then (x/255 - mean)/std per channel."""

    mean: list[float]
    std: list[float]
    pad: int = 0
    pad_value: int = 0

    def to_json(self) -> dict:
        return {"scale": 1 / 255, "mean": self.mean, "std": self.std, "pad": self.pad, "padValue": self.pad_value}


@dataclass
class Dataset:
    name: str
    classes: list[str]
    norm: Normalization
    source_shape: list[int]  # [C, H, W] before padding
    train_x: np.ndarray  # uint8 [N, C, H, W], padded
    train_y: np.ndarray  # int64 [N]
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> list[int]:
        return list(self.train_x.shape[1:])


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    expected = int(np.prod(dims))
    if body.size != expected:
        raise ValueError(f"{path}: {body.size} bytes of data, header says {expected}")
    return body.reshape(dims)


def _split_val(x: np.ndarray, y: np.ndarray, n_val: int, seed: int):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    val_idx, train_idx = order[:n_val], order[n_val:]
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def load_fashion_mnist(root: str = FASHION_MNIST_DIR, n_val: int = 5000, seed: int = 0) -> Dataset:
    """Fashion-MNIST padded from 28x28 to 32x32; `n_val` training images held out as validation."""
    def load(prefix: str):
        x = _read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
        y = _read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
        if x.ndim != 3 or len(x) != len(y):
            raise ValueError(f"{prefix}: images {x.shape} do not match labels {y.shape}")
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=0)[:, None]
        return np.ascontiguousarray(x), y

    train_x, train_y = load("train")
    test_x, test_y = load("t10k")
    tx, ty, vx, vy = _split_val(train_x, train_y, n_val, seed)
    return Dataset(
        name="fashion-mnist",
        classes=FASHION_CLASSES,
        norm=Normalization(mean=[0.2860], std=[0.3530], pad=2, pad_value=0),
        source_shape=[1, 28, 28],
        train_x=tx, train_y=ty, val_x=vx, val_y=vy, test_x=test_x, test_y=test_y,
        meta={"root": root, "valSeed": seed, "nVal": n_val},
    )


def _load_cifar_batch(path: str):
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path}: not a CIFAR-10 python batch (no data/labels)")
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != data.shape[0]:
        raise ValueError(f"{path}: expected [N, 3072] data and N labels, got {data.shape} and {len(labels)}")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def load_cifar10(root: str, n_val: int = 5000, seed: int = 0) -> Dataset:
    """CIFAR-10 from the python version's `data_batch_1..5` and `test_batch` in `root`."""
    parts = [_load_cifar_batch(os.path.join(root, f"data_batch_{i}")) for i in range(1, 6)
             if os.path.exists(os.path.join(root, f"data_batch_{i}"))]
    if not parts:
        raise FileNotFoundError(f"{root}: no data_batch_* files (CIFAR-10 python version expected)")
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = _load_cifar_batch(os.path.join(root, "test_batch"))
    n_val = min(n_val, len(train_x) // 5)
    tx, ty, vx, vy = _split_val(train_x, train_y, n_val, seed)
    return Dataset(
        name="cifar10",
        classes=CIFAR10_CLASSES,
        norm=Normalization(mean=[0.4914, 0.4822, 0.4465], std=[0.2470, 0.2435, 0.2616]),
        source_shape=[3, 32, 32],
        train_x=tx, train_y=ty, val_x=vx, val_y=vy, test_x=test_x, test_y=test_y,
        meta={"root": root, "valSeed": seed, "nVal": n_val},
    )


def subset(ds: Dataset, n_train: int, n_val: int, n_test: int) -> Dataset:
    """A smaller dataset with the first n images of each split (for the tiny pipeline configuration)."""
    return Dataset(
        name=ds.name, classes=ds.classes, norm=ds.norm, source_shape=ds.source_shape,
        train_x=ds.train_x[:n_train], train_y=ds.train_y[:n_train],
        val_x=ds.val_x[:n_val], val_y=ds.val_y[:n_val],
        test_x=ds.test_x[:n_test], test_y=ds.test_y[:n_test],
        meta={**ds.meta, "subset": [n_train, n_val, n_test]},
    )


def normalize(x_uint8, norm: Normalization):
    """uint8 tensor/array [N, C, H, W] (already padded) -> normalized float32 torch tensor."""
    import torch

    x = torch.as_tensor(x_uint8).float().div_(255.0)
    mean = torch.tensor(norm.mean).view(1, -1, 1, 1)
    std = torch.tensor(norm.std).view(1, -1, 1, 1)
    return (x - mean) / std
