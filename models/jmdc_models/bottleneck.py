"""Learned bottlenecks at partition points of an exported model (after BottleNet++, Shao & Zhang 2020).

A bottleneck at point p of a variant is a small encoder that runs on the device after block p and maps the
point's features [C, H, W] to a code [c, H, W] in (0, 1) (c << C), and a decoder that runs in the cloud before
block p+1 and maps the code back to [C, H, W]. The variant's own blocks stay as they are (frozen): only the
encoder, the decoder and the code's fill value for dropped positions are trained, end to end through the frozen
tail with the codec's region selection and quantization in the loop (random keep ratio, bit width and
quantization scope per batch, straight-through gradients), with the uncompressed model as the teacher. So the
bottleneck adds two small ONNX files per point and no block file changes.

    python -m jmdc_models.bottleneck --model fmnist-vgg16 --points 2:8 --epochs 1 --lr 3e-3 --recon 1
    python -m jmdc_models.bottleneck --model-dir ../test/fixtures/models/tiny-vgg11 --points 1:2,2:2 --max-batches 4

Training on a GPU machine and exporting here (the shipped bottlenecks were made this way; the weights travel,
the ONNX export, the accuracy figures and the golden logits are made on this machine's CPU):

    python -m jmdc_models.bottleneck --model-dir /tmp/m --points 1:8 --epochs 40 --time-budget 240 \
        --lr 3e-3 --recon 1 --device cuda --state-dir /tmp/states          # on the GPU machine, a copy of the model
    python -m jmdc_models.bottleneck --model fmnist-vgg16 --points 1:8,2:16 --from-state /tmp/states   # here

It works on the exported model folder (the blocks are read back from their ONNX files, BN already folded), so
it runs after the pipeline (`pipeline.py` calls it as its last phase) or on a shipped model alone. It rewrites
`manifest.json` (a `bottlenecks` list, the content hash) and adds the bottleneck logits to `golden.json`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

from . import data as data_mod
from .export import _export, content_hash, sha256_file
from .net import Net, fake_quantize, select_regions
from .train import Progress, augment, resolve_device, seed_all

KEEPS = [1.0, 1.0, 0.75, 0.5, 0.375, 0.25]
BITS = [1, 2, 2, 3, 4, 6, 8]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# the exported variant as a torch module (BN is folded into the conv biases in the ONNX files)


def _initializers(path: str) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    m = onnx.load(path)
    return m, {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def load_folded(model_dir: str, variant: dict, in_channels: int, num_classes: int) -> Net:
    """The variant's network rebuilt from its block files: the same modules as `Net`, BN replaced by conv biases."""
    widths, se_hidden, blocks = [], [], []
    for entry in variant["blocks"][:-1]:
        m, init = _initializers(os.path.join(model_dir, entry["file"]))
        convs = [n for n in m.graph.node if n.op_type == "Conv" and n.input[1] != "spatial.conv.weight"]
        widths.append([int(init[n.input[1]].shape[0]) for n in convs])
        se_hidden.append([int(init[f"units.{i}.gate.fc1.weight"].shape[0]) for i in range(len(convs))])
        blocks.append((convs, init))
    net = Net(widths, in_channels, num_classes, se_hidden=se_hidden)
    with torch.no_grad():
        for block, (convs, init) in zip(net.blocks, blocks):
            for i, (unit, node) in enumerate(zip(block.units, convs)):
                w = torch.from_numpy(init[node.input[1]].copy())
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1, bias=True)
                conv.weight.copy_(w)
                conv.bias.copy_(torch.from_numpy(init[node.input[2]].copy()))
                unit.conv, unit.bn = conv, nn.Identity()
                for fc in ("fc1", "fc2"):
                    layer = getattr(unit.gate, fc)
                    layer.weight.copy_(torch.from_numpy(init[f"units.{i}.gate.{fc}.weight"].copy()))
                    layer.bias.copy_(torch.from_numpy(init[f"units.{i}.gate.{fc}.bias"].copy()))
            block.spatial.conv.weight.copy_(torch.from_numpy(init["spatial.conv.weight"].copy()))
            block.spatial.conv.bias.copy_(torch.from_numpy(init["spatial.conv.bias"].copy()))
        _, init = _initializers(os.path.join(model_dir, variant["blocks"][-1]["file"]))
        net.classifier.weight.copy_(torch.from_numpy(init["linear.weight"].copy()))
        net.classifier.bias.copy_(torch.from_numpy(init["linear.bias"].copy()))
        for i, fill in enumerate(variant["fill"]):
            net.fills[i].copy_(torch.tensor(fill))
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval().to(memory_format=torch.channels_last)


def head(net: Net, x: torch.Tensor, point: int) -> tuple[torch.Tensor, torch.Tensor]:
    a = None
    for b in net.blocks[:point]:
        x, a = b(x)
    return x, a


def tail(net: Net, x: torch.Tensor, point: int) -> torch.Tensor:
    for b in net.blocks[point:]:
        x, _ = b(x)
    return net.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------------------------
# the bottleneck


class Encoder(nn.Module):
    def __init__(self, channels: int, code: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, code, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(code)

    def forward(self, features):
        return torch.sigmoid(self.bn(self.conv(features)))


class Decoder(nn.Module):
    def __init__(self, code: int, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(code, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, code):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(code))))))


class Bottleneck(nn.Module):
    def __init__(self, channels: int, code: int):
        super().__init__()
        self.encoder = Encoder(channels, code)
        self.decoder = Decoder(code, channels)
        self.fill = nn.Parameter(torch.full((code,), 0.5))


def fake_quantize_tensor(code: torch.Tensor, mask: torch.Tensor, bits: int) -> torch.Tensor:
    """Uniform b-bit quantization with one range per item over its kept values (the codec's tensor scope)."""
    n, c, h, w = code.shape
    m = mask.view(n, 1, h * w).expand(n, c, h * w)
    flat = code.reshape(n, c * h * w)
    mf = m.reshape(n, c * h * w)
    big = torch.finfo(code.dtype).max
    lo = torch.where(mf, flat, torch.full_like(flat, big)).amin(dim=1, keepdim=True)
    hi = torch.where(mf, flat, torch.full_like(flat, -big)).amax(dim=1, keepdim=True)
    levels = (1 << bits) - 1
    scale = ((hi - lo) / levels).clamp_min(1e-12)
    q = torch.round((flat - lo) / scale).clamp(0, levels) * scale + lo
    q = torch.where(mf, q, flat)
    return (flat + (q - flat).detach()).view(n, c, h, w)


def compress(code: torch.Tensor, attention: torch.Tensor, fill: torch.Tensor, keep: float, bits: int,
             scope: str) -> torch.Tensor:
    code, mask = select_regions(code, attention, keep, fill)
    if bits >= 32:
        return code
    return fake_quantize(code, mask, bits) if scope == "channel" else fake_quantize_tensor(code, mask, bits)


def forward_with(net: Net, bn: Bottleneck, x: torch.Tensor, point: int, setting: tuple | None) -> torch.Tensor:
    f, a = head(net, x, point)
    z = bn.encoder(f)
    if setting is not None:
        z = compress(z, a, bn.fill, *setting)
    return tail(net, bn.decoder(z), point)


def train_bottleneck(net: Net, bn: Bottleneck, ds, point: int, *, epochs: int, lr: float, batch_size: int,
                     max_batches: int | None, label: str, recon: float = 0.0,
                     device: torch.device = torch.device("cpu"), time_budget: float | None = None) -> list[dict]:
    """Loss: cross-entropy + distillation from the uncompressed model, plus `recon` times the mean squared
    error between the decoder's output and the point's features (relative to their mean square), which gives
    the decoder a dense signal besides the one through the frozen tail. With `time_budget` (seconds), the
    number of epochs is lowered after the first one when the first one's time says they would not fit; the
    cosine schedule is stretched to the new total, and the history records the epochs that ran."""
    n = len(ds.train_x)
    steps_per_epoch = math.ceil(n / batch_size) if max_batches is None else min(max_batches, math.ceil(n / batch_size))
    sched_total = [epochs * steps_per_epoch]
    opt = torch.optim.Adam(bn.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, sched_total[0]) / sched_total[0])))
    total = sched_total[0]
    started = time.time()
    mean = torch.tensor(ds.norm.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(ds.norm.std, device=device).view(1, -1, 1, 1)
    history, step = [], 0
    prog = Progress(label, total)
    epoch = 0
    while epoch < epochs:
        epoch += 1
        bn.train()
        order = torch.randperm(n)
        t0, loss_sum, correct, seen = time.time(), 0.0, 0, 0
        for s in range(steps_per_epoch):
            idx = order[s * batch_size:(s + 1) * batch_size]
            xb = augment(torch.from_numpy(ds.train_x[idx.numpy()]), 2, True)
            x = ((xb.to(device).float() / 255.0 - mean) / std).contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(ds.train_y[idx.numpy()]).to(device)
            with torch.no_grad():
                f, a = head(net, x, point)
                teacher = tail(net, f, point)
            setting = None if random.random() < 0.1 else (
                random.choice(KEEPS), random.choice(BITS), random.choice(["tensor", "channel"]))
            z = bn.encoder(f)
            if setting is not None:
                z = compress(z, a, bn.fill, *setting)
            rebuilt = bn.decoder(z)
            logits = tail(net, rebuilt, point)
            kd = F.kl_div(F.log_softmax(logits / 2, 1), F.softmax(teacher / 2, 1), reduction="batchmean") * 4
            loss = 0.5 * F.cross_entropy(logits, y) + 0.5 * kd
            if recon > 0:
                loss = loss + recon * F.mse_loss(rebuilt, f) / f.pow(2).mean().clamp_min(1e-8)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
            prog.update(step, f"loss {loss_sum / seen:.4f} acc {correct / seen:.4f}")
        history.append({"epoch": epoch, "loss": loss_sum / seen, "trainAcc": correct / seen,
                        "seconds": time.time() - t0})
        log(f"{label}: epoch {epoch}/{epochs} loss {loss_sum / seen:.4f} train acc {correct / seen:.4f} "
            f"({time.time() - t0:.1f} s)")
        if time_budget is not None and epoch == 1 and epochs > 1:
            fits = max(1, int(time_budget // (time.time() - started)))
            if fits < epochs:
                log(f"{label}: {epochs} epochs would take {epochs * (time.time() - started):.0f} s, over the "
                    f"{time_budget:.0f} s budget: training {fits} epoch(s)")
                epochs = fits
                sched_total[0] = total = epochs * steps_per_epoch
                prog = Progress(label, total)
    bn.eval()
    return history


@torch.no_grad()
def accuracy_with(net: Net, bn: Bottleneck, x_u8: np.ndarray, y: np.ndarray, norm, point: int,
                  setting: tuple | None, batch_size: int = 500) -> float:
    bn.eval()
    device = bn.fill.device
    correct = 0
    for s in range(0, len(x_u8), batch_size):
        x = data_mod.normalize(x_u8[s:s + batch_size], norm).to(device).contiguous(memory_format=torch.channels_last)
        pred = forward_with(net, bn, x, point, setting).argmax(1).cpu().numpy()
        correct += int((pred == y[s:s + batch_size]).sum())
    return correct / len(x_u8)


# ---------------------------------------------------------------------------------------------------------
# export and manifest


def _conv_macs(conv: nn.Conv2d, h: int, w: int) -> int:
    return conv.in_channels * conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1] * h * w


def export_bottleneck(bn: Bottleneck, model_dir: str, variant_id: str, point: int, shape: list[int]) -> dict:
    c_in, h, w = shape
    code = bn.encoder.conv.out_channels
    bn = bn.eval()
    files = {}
    for role, module, inp, out, in_shape, out_shape, macs in (
        ("encoder", bn.encoder, "features", "code", [c_in, h, w], [code, h, w],
         _conv_macs(bn.encoder.conv, h, w) + 2 * code * h * w),
        ("decoder", bn.decoder, "code", "features", [code, h, w], [c_in, h, w],
         _conv_macs(bn.decoder.conv1, h, w) + _conv_macs(bn.decoder.conv2, h, w) + 4 * c_in * h * w),
    ):
        rel = f"{variant_id}/bottleneck{point}.{role[:3]}.onnx"
        path = os.path.join(model_dir, rel)
        _export(module, torch.zeros(1, *in_shape), path, inp, [out])
        params = sum(p.numel() for p in module.parameters() if p.dim() > 1) + sum(
            m.num_features * 2 for m in module.modules() if isinstance(m, nn.BatchNorm2d))
        files[role] = {"file": rel, "sha256": sha256_file(path), "bytes": os.path.getsize(path),
                       "inShape": in_shape, "outShape": out_shape, "macs": int(macs), "params": int(params)}
    return files


def artifact_files(manifest: dict) -> list[str]:
    files = [b["file"] for v in manifest["variants"] for b in v["blocks"]]
    files += [e[role]["file"] for e in manifest.get("bottlenecks", []) for role in ("encoder", "decoder")]
    return files + ([manifest["golden"]] if manifest.get("golden") else [])


@torch.no_grad()
def golden_logits(net: Net, bn: Bottleneck, golden: dict, norm: data_mod.Normalization, point: int) -> list:
    c, h, w = golden["sourceShape"]
    imgs = np.asarray(golden["images"], dtype=np.uint8).reshape(-1, c, h, w)
    pad = norm.pad
    if pad:
        imgs = np.pad(imgs, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=norm.pad_value)
    x = data_mod.normalize(imgs, norm)
    return [[round(float(z), 7) for z in row] for row in forward_with(net, bn, x, point, None).numpy()]


def load_dataset_for(manifest: dict, data_dir: str | None):
    meta = manifest.get("data", {})
    name = meta.get("dataset", "fashion-mnist")
    n_val, seed = meta.get("nVal", 5000), meta.get("valSeed", 0)
    if name == "fashion-mnist":
        ds = data_mod.load_fashion_mnist(data_dir or meta.get("root") or data_mod.FASHION_MNIST_DIR, n_val, seed)
    elif name == "cifar10":
        if not (data_dir or meta.get("root")):
            raise SystemExit("cifar10 needs --data DIR")
        ds = data_mod.load_cifar10(data_dir or meta["root"], n_val, seed)
    else:
        raise SystemExit(f"unknown dataset {name}")
    if meta.get("subset"):
        ds = data_mod.subset(ds, *meta["subset"])
    return ds


def parse_points(spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split(","):
        p, _, c = part.partition(":")
        if not p.isdigit() or not c.isdigit() or int(p) < 1 or int(c) < 1:
            raise SystemExit(f"--points: expected POINT:CHANNELS[,...], got {part!r}")
        out.append((int(p), int(c)))
    return out


def load_state(bn: Bottleneck, path: str, code: int) -> tuple[list[dict], float, str]:
    if not os.path.exists(path):
        raise SystemExit(f"--from-state: no {path}")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if ck.get("channels") != code:
        raise SystemExit(f"{path}: a {ck.get('channels')}-channel code, but --points asks for {code}")
    bn.load_state_dict(ck["state"])
    log(f"{path}: trained on {ck.get('device')} in {ck.get('seconds', 0):.0f} s, {len(ck['history'])} epoch(s)")
    return ck["history"], float(ck.get("seconds", 0.0)), str(ck.get("device", "unknown"))


def parse_setting(spec: str) -> tuple[float, int, str]:
    keep, _, rest = spec.partition(":")
    bits, _, scope = rest.partition(":")
    try:
        k, b = float(keep), int(bits)
    except ValueError:
        k, b = -1.0, 0
    if not (0 < k <= 1 and 1 <= b <= 8 and scope in ("tensor", "channel")):
        raise SystemExit(f"--eval: expected KEEP:BITS:tensor|channel with 0 < KEEP <= 1, 1 <= BITS <= 8, got {spec!r}")
    return (k, b, scope)


def add_bottlenecks(model_dir: str, points: list[tuple[int, int]], *, variant_ratio: float = 0.0, epochs: int = 3,
                    lr: float = 2e-3, batch_size: int = 128, max_batches: int | None = None, seed: int = 0,
                    data_dir: str | None = None, eval_settings: list[tuple] | None = None, recon: float = 0.0,
                    device: str = "cpu", state_dir: str | None = None, from_state: str | None = None,
                    time_budget: float | None = None) -> dict:
    """Trains, exports and registers one bottleneck per (point, channels); returns the training report.
    Training and the accuracy figures run on `device`; export and golden logits always run on the CPU.
    `state_dir` keeps each trained bottleneck's weights and history (<id>.pt); `from_state` loads them from
    such a folder instead of training (so a bottleneck trained on another machine is evaluated and exported
    here)."""
    dev = resolve_device(device)
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    variant = next((v for v in manifest["variants"] if abs(v["pruneRatio"] - variant_ratio) < 1e-9), None)
    if variant is None:
        raise SystemExit(f"{model_dir}: no variant with prune ratio {variant_ratio}")
    ds = load_dataset_for(manifest, data_dir)
    norm = ds.norm
    net = load_folded(model_dir, variant, ds.input_shape[0], len(ds.classes))
    golden_path = os.path.join(model_dir, manifest["golden"]) if manifest.get("golden") else None
    golden = json.load(open(golden_path)) if golden_path else None
    if golden is not None:
        # the rebuilt network must be the exported one
        c, h, w = golden["sourceShape"]
        imgs = np.asarray(golden["images"], dtype=np.uint8).reshape(-1, c, h, w)
        if norm.pad:
            imgs = np.pad(imgs, ((0, 0), (0, 0), (norm.pad, norm.pad), (norm.pad, norm.pad)))
        with torch.no_grad():
            got = net(data_mod.normalize(imgs, norm)).numpy()
        diff = float(np.abs(got - np.asarray(golden["logits"][variant["id"]])).max())
        log(f"{variant['id']} rebuilt from ONNX: max |logit - golden| = {diff:.2e}")
        if diff > 1e-3:
            raise SystemExit(f"{variant['id']}: the network rebuilt from ONNX does not match golden.json ({diff})")
    eval_settings = eval_settings or [None, (1.0, 2, "tensor"), (1.0, 1, "tensor")]
    entries = [e for e in manifest.get("bottlenecks", [])
               if not (abs(e["variant"] - variant_ratio) < 1e-9 and e["point"] in {p for p, _ in points})]
    report = []
    for point, code in points:
        shape = variant["blocks"][point - 1]["outShape"]
        bid = f"{variant['id']}-p{point}"
        seed_all(seed + point)
        bn = Bottleneck(shape[0], code).to(memory_format=torch.channels_last)
        net.to(dev)
        bn.to(dev)
        t0 = time.time()
        if from_state:
            hist, seconds, trained_on = load_state(bn, os.path.join(from_state, f"{bid}.pt"), code)
        else:
            hist = train_bottleneck(net, bn, ds, point, epochs=epochs, lr=lr, batch_size=batch_size,
                                    max_batches=max_batches, label=f"bottleneck {bid} ({shape[0]}->{code})",
                                    recon=recon, device=dev, time_budget=time_budget)
            seconds, trained_on = time.time() - t0, str(dev)
            if state_dir:
                os.makedirs(state_dir, exist_ok=True)
                torch.save({"channels": code, "state": {k: v.cpu() for k, v in bn.state_dict().items()},
                            "history": hist, "seconds": seconds, "device": str(dev)},
                           os.path.join(state_dir, f"{bid}.pt"))
        evals = []
        for i, s in enumerate(eval_settings):
            # the uncompressed code on both splits (the manifest's accuracy), the others on val only
            row = {"keep": None if s is None else s[0], "bits": None if s is None else s[1],
                   "scope": None if s is None else s[2],
                   "val": accuracy_with(net, bn, ds.val_x, ds.val_y, norm, point, s)}
            if i == 0:
                row["test"] = accuracy_with(net, bn, ds.test_x, ds.test_y, norm, point, s)
            evals.append(row)
            log(f"bottleneck {bid}: keep {row['keep']} bits {row['bits']} {row['scope']}: val {row['val']:.4f}"
                + (f" test {row['test']:.4f}" if "test" in row else ""))
        net.cpu()
        bn.cpu()
        files = export_bottleneck(bn, model_dir, variant["id"], point, shape)
        entries.append({
            "id": bid, "point": point, "variant": variant["pruneRatio"], "channels": code,
            "codeShape": [code, shape[1], shape[2]], **files,
            "fill": [round(float(v), 6) for v in bn.fill.detach().clamp(0, 1).numpy()],
            "accuracy": {"val": evals[0]["val"], "test": evals[0]["test"]},
        })
        if golden is not None:
            # the fill is stored clamped to the code range; training keeps it there in practice
            golden.setdefault("bottlenecks", {})[bid] = golden_logits(net, bn, golden, norm, point)
        report.append({"id": bid, "point": point, "channels": code, "epochs": len(hist), "trainedOn": trained_on,
                       "history": hist, "seconds": seconds, "accuracy": evals})
    entries.sort(key=lambda e: (e["variant"], e["point"]))
    manifest["bottlenecks"] = entries
    if golden is not None:
        with open(golden_path, "w") as f:
            json.dump(golden, f)
            f.write("\n")
    manifest["hash"] = content_hash(model_dir, artifact_files(manifest))
    with open(os.path.join(model_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    log(f"{model_dir}/manifest.json: {len(entries)} bottleneck(s), hash {manifest['hash']}")
    return {"config": {"points": points, "variant": variant_ratio, "epochs": epochs, "lr": lr, "recon": recon,
                       "batch": batch_size,
                       "maxBatches": max_batches, "seed": seed, "keeps": KEEPS, "bits": BITS, "device": str(dev)},
            "bottlenecks": report, "hash": manifest["hash"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="model id under models/")
    g.add_argument("--model-dir", help="exported model folder")
    ap.add_argument("--points", required=True, help="POINT:CHANNELS[,...], e.g. 1:4,2:8,3:16")
    ap.add_argument("--variant", type=float, default=0.0, help="prune ratio of the variant (default 0)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--recon", type=float, default=0.0, help="weight of the feature reconstruction term")
    ap.add_argument("--max-batches", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", help="dataset folder (default: the manifest's)")
    ap.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                    help="torch device for training and evaluation (auto: cuda when available); export runs on the CPU")
    ap.add_argument("--time-budget", type=float, help="seconds of training per bottleneck: fewer epochs than "
                    "--epochs when the first epoch's time says they would not fit")
    ap.add_argument("--state-dir", help="also save each trained bottleneck's weights as DIR/<id>.pt")
    ap.add_argument("--from-state", help="load the bottlenecks from DIR/<id>.pt (see --state-dir) instead of training")
    ap.add_argument("--eval", help="settings whose validation accuracy the report lists besides the uncompressed "
                    "code, as KEEP:BITS:SCOPE[,...] (default 1:2:tensor,1:1:tensor)")
    args = ap.parse_args(argv)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model_dir = args.model_dir or os.path.join(here, args.model)
    if not os.path.exists(os.path.join(model_dir, "manifest.json")):
        raise SystemExit(f"{model_dir}: no manifest.json")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    eval_settings = [None] + [parse_setting(e) for e in args.eval.split(",")] if args.eval else None
    report = add_bottlenecks(model_dir, parse_points(args.points), variant_ratio=args.variant, epochs=args.epochs,
                             lr=args.lr, batch_size=args.batch, max_batches=args.max_batches, seed=args.seed,
                             data_dir=args.data, recon=args.recon, device=args.device, eval_settings=eval_settings,
                             state_dir=args.state_dir, from_state=args.from_state, time_budget=args.time_budget)
    path = os.path.join(model_dir, "training-report.json")
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
        doc["bottlenecks"] = report
        doc["hash"] = report["hash"]
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
