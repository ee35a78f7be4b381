"""Writes splits.json: which training-file images form the validation split (the rest were trained on).

The TypeScript evaluator reads the dataset files itself and needs the exact held-out indices.
    python -m jmdc_models.splits --out models/fmnist-vgg16
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from . import data as data_mod


def val_indices(n_train_file: int, n_val: int, seed: int) -> list[int]:
    """Indices into the training file, in the order data._split_val puts them into the validation split."""
    order = np.random.default_rng(seed).permutation(n_train_file)
    return order[:n_val].tolist()


def write_splits(out: str, dataset: str, n_train_file: int, n_val: int, seed: int, root: str,
                 test_count: int | None = None) -> None:
    doc = {
        "dataset": dataset,
        "root": root,
        "seed": seed,
        "trainFileImages": n_train_file,
        "val": {"from": "train", "indices": val_indices(n_train_file, n_val, seed)},
        "test": {"from": "test", "count": test_count},
        "note": "val = these images of the training file (never trained on); test = the whole test file",
    }
    with open(os.path.join(out, "splits.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-val", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    write_splits(args.out, "fashion-mnist", 60000, args.n_val, args.seed, data_mod.FASHION_MNIST_DIR)


if __name__ == "__main__":
    main()
