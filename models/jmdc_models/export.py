"""ONNX export (one file per block per variant, chained at run time), manifest and golden files."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch
import torch.nn as nn

from .data import Dataset
from .net import Net, count_macs_params


class _ClassifierHead(nn.Module):
    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, x):
        return self.linear(torch.flatten(x, 1))


def _export(module: nn.Module, example: torch.Tensor, path: str, input_name: str, output_names: list[str]) -> None:
    module.eval()
    dyn = {input_name: {0: "batch"}, **{o: {0: "batch"} for o in output_names}}
    torch.onnx.export(module, (example,), path, input_names=[input_name], output_names=output_names,
                      dynamic_axes=dyn, opset_version=17, do_constant_folding=True, dynamo=False,
                      external_data=False)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_variant(net: Net, out_dir: str, model_dir: str, input_shape: list[int]) -> list[dict]:
    """Writes block1..blockN.onnx and classifier.onnx; returns per-file entries for the manifest."""
    os.makedirs(out_dir, exist_ok=True)
    net = net.eval().to(memory_format=torch.contiguous_format)
    stats = count_macs_params(net, input_shape)
    x = torch.zeros(1, *input_shape)
    entries = []
    with torch.no_grad():
        for i, block in enumerate(net.blocks, start=1):
            path = os.path.join(out_dir, f"block{i}.onnx")
            _export(block, x, path, "x", ["features", "attention"])
            y, _ = block(x)
            entries.append({"block": i, "file": os.path.relpath(path, model_dir), "sha256": sha256_file(path),
                            "bytes": os.path.getsize(path), "inShape": list(x.shape[1:]), **stats[i - 1]})
            x = y
        path = os.path.join(out_dir, "classifier.onnx")
        _export(_ClassifierHead(net.classifier), x, path, "features", ["logits"])
        entries.append({"block": len(net.blocks) + 1, "file": os.path.relpath(path, model_dir),
                        "sha256": sha256_file(path), "bytes": os.path.getsize(path), "inShape": list(x.shape[1:]),
                        **stats[-1]})
    return entries


def content_hash(model_dir: str, files: list[str]) -> str:
    """sha256 over the sorted (path, file sha256) pairs of every artifact."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.encode() + b"\0" + sha256_file(os.path.join(model_dir, f)).encode() + b"\n")
    return "sha256:" + h.hexdigest()


def variant_id(ratio: float) -> str:
    return f"r{int(round(ratio * 100)):03d}"


def write_manifest(model_id: str, model_dir: str, ds: Dataset, variants: list[dict], extra: dict) -> dict:
    """variants: [{ratio, net, accuracy: {val, test}, files: [...]}] -> models/<id>/manifest.json."""
    full = variants[0]["net"]
    stats = count_macs_params(full, ds.input_shape)
    points = [{"point": i, "featureShape": s["outShape"], "attentionShape": s["outShape"][1:]}
              for i, s in enumerate(stats[:-1], start=1)]
    all_files = [e["file"] for v in variants for e in v["files"]] + ["golden.json"]
    manifest = {
        "id": model_id,
        "hash": content_hash(model_dir, all_files),
        "format": 1,
        "architecture": extra.get("architecture", {}),
        "input": {
            "shape": ds.input_shape,
            "sourceShape": ds.source_shape,
            "dtype": "uint8",
            "layout": "NCHW",
            "normalization": ds.norm.to_json(),
        },
        "classes": ds.classes,
        "io": {"blockInput": "x", "blockOutputs": ["features", "attention"], "classifierInput": "features",
               "classifierOutput": "logits", "firstBlockInput": "x"},
        "points": points,
        "variants": [
            {
                "id": variant_id(v["ratio"]),
                "pruneRatio": v["ratio"],
                "blocks": v["files"],
                "macs": int(sum(e["macs"] for e in v["files"])),
                "params": int(sum(e["params"] for e in v["files"])),
                "fill": [[round(float(f), 6) for f in p.detach().numpy()] for p in v["net"].fills],
                "accuracy": v["accuracy"],
            }
            for v in variants
        ],
        "golden": "golden.json",
        "data": extra.get("data", {}),
    }
    with open(os.path.join(model_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest


@torch.no_grad()
def write_golden(model_dir: str, ds: Dataset, variants: list[dict], n: int = 8) -> None:
    """Raw uint8 source images (unpadded) from the test split and each variant's torch logits for them."""
    from .data import normalize

    c, h, w = ds.source_shape
    pad = ds.norm.pad
    imgs = ds.test_x[:n]
    src = imgs[:, :, pad:pad + h, pad:pad + w] if pad else imgs
    x = normalize(imgs, ds.norm)
    golden = {
        "sourceShape": ds.source_shape,
        "images": [np.ascontiguousarray(im).reshape(-1).tolist() for im in src],
        "labels": ds.test_y[:n].tolist(),
        "logits": {},
    }
    for v in variants:
        net = v["net"].eval()
        golden["logits"][variant_id(v["ratio"])] = [[round(float(z), 7) for z in row] for row in net(x).numpy()]
    with open(os.path.join(model_dir, "golden.json"), "w") as f:
        json.dump(golden, f)
        f.write("\n")
