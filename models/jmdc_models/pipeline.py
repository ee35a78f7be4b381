"""The whole model pipeline: train -> compression-aware fine-tune -> attention pruning -> export.

    python -m jmdc_models.pipeline --config full   # the shipped fmnist-vgg16 (see models/README.md)
    python -m jmdc_models.pipeline --config tiny --out /tmp/tiny   # seconds; CI runs this
    python -m jmdc_models.pipeline --device cuda                    # training on a GPU (export stays on the CPU)

Each phase writes a checkpoint under --work; a rerun resumes from the last finished phase.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import torch

from . import data as data_mod
from .export import export_variant, variant_id, write_golden, write_manifest
from .net import CFGS, Net, block_widths
from .splits import write_splits
from .prune import gate_spread, keep_indices, prune, rank_scores
from .train import accuracy, mean_gates, recalibrate_bn, resolve_device, seed_all, to_input, train_epochs

CONFIGS = {
    "full": {
        "id": "fmnist-vgg16", "dataset": "fashion-mnist", "cfg": "vgg16", "width": 0.5,
        "subset": None, "epochs": 12, "caEpochs": 3, "pruneEpochs": 6, "distill": True, "controlEpochs": 1,
        "lr": 0.05, "polar": 0.1, "batch": 128, "ratios": [0.0, 0.25, 0.5, 0.75], "controlRatio": 0.5,
        "compressProb": 0.8, "maxBatches": None, "golden": 8,
        # point:channels:epochs of each learned bottleneck of r000
        # (the shipped ones: 14 and 15 epochs on a GPU, about 4 min each; on 2 CPU cores about 20 min an epoch)
        "bottlenecks": ["1:8:14", "2:16:15"], "bottleneckLr": 3e-3, "bottleneckRecon": 1.0,
    },
    "tiny": {
        "id": "tiny-vgg11", "dataset": "fashion-mnist", "cfg": "vgg11", "width": 0.0625,
        "subset": [512, 256, 256], "epochs": 1, "caEpochs": 1, "pruneEpochs": 1, "distill": True, "controlEpochs": 1,
        "lr": 0.05, "polar": 0.05, "batch": 64, "ratios": [0.0, 0.5], "controlRatio": 0.5,
        "compressProb": 0.8, "maxBatches": 4, "golden": 4, "bottlenecks": ["1:2:1", "2:4:1"],
        "bottleneckLr": 3e-3, "bottleneckRecon": 1.0,
    },
}


def write_json(path: str, doc: dict) -> None:
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_dataset(cfg: dict, data_dir: str | None):
    if cfg["dataset"] == "fashion-mnist":
        ds = data_mod.load_fashion_mnist(data_dir or data_mod.FASHION_MNIST_DIR)
    elif cfg["dataset"] == "cifar10":
        if not data_dir:
            raise SystemExit("cifar10 needs --data DIR (the python-version batches)")
        ds = data_mod.load_cifar10(data_dir)
    else:
        raise SystemExit(f"unknown dataset {cfg['dataset']}")
    if cfg["subset"]:
        ds = data_mod.subset(ds, *cfg["subset"])
    return ds


def save(net: Net, path: str, extra: dict | None = None) -> None:
    torch.save({"spec": net.spec(), "state": net.state_dict(), "extra": extra or {}}, path)


def load(path: str, device: torch.device | str = "cpu") -> tuple[Net, dict]:
    ck = torch.load(path, weights_only=False, map_location="cpu")
    net = Net.from_spec(ck["spec"])
    net.load_state_dict(ck["state"])
    return net.to(device, memory_format=torch.channels_last), ck["extra"]


@torch.no_grad()
def init_fills(net: Net, ds, n: int = 2000) -> None:
    """Start each point's fill value at the per-channel mean of its features over training images."""
    net.eval()
    x = to_input(ds.train_x[:n], ds.norm, net.fills[0].device)
    for i, b in enumerate(net.blocks):
        x, _ = b(x)
        net.fills[i].copy_(x.mean(dim=(0, 2, 3)))


def train_base(cfg: dict, ds, seed: int, device: torch.device | str = "cpu", label: str = "base") -> tuple[Net, dict]:
    """Phase 1: the base network of `cfg` trained from seed `seed` with the config's polarization strength."""
    seed_all(seed)
    widths = block_widths(CFGS[cfg["cfg"]], cfg["width"])
    base = Net(widths, ds.input_shape[0], len(ds.classes)).to(device, memory_format=torch.channels_last)
    log(f"{label}: {cfg['cfg']} width {cfg['width']} widths {widths}, polar {cfg['polar']}, "
        f"{sum(p.numel() for p in base.parameters()) / 1e6:.2f} M params, on {device}")
    t0 = time.time()
    hist = train_epochs(base, ds.train_x, ds.train_y, ds.norm, epochs=cfg["epochs"], lr=cfg["lr"],
                        batch_size=cfg["batch"], polar=cfg["polar"], label=label, max_batches=cfg["maxBatches"])
    val = accuracy(base, ds.val_x, ds.val_y, ds.norm)
    seconds = time.time() - t0
    log(f"{label}: val {val:.4f}, {seconds:.0f} s ({sum(h['seconds'] for h in hist) / len(hist):.1f} s/epoch)")
    return base, {"history": hist, "valAcc": val, "seconds": seconds}


CONTROL_METHODS = ("attention", "l1", "random")


def control(base: Net, gates: list[torch.Tensor], ds, cfg: dict, seed: int, label: str = "control",
            on_row=None) -> list[dict]:
    """Phase 2: attention vs L1 vs random ranking at `controlRatio`, each pruned from `base`, BN re-estimated,
    validation accuracy before and after the same `controlEpochs` fine-tune. `on_row(rows)` after each method."""
    rows = []
    for method in CONTROL_METHODS:
        t0 = time.time()
        seed_all(seed)
        small = prune(base, keep_indices(rank_scores(base, method, gates, seed=seed), cfg["controlRatio"]))
        small = small.to(memory_format=torch.channels_last)
        recalibrate_bn(small, ds.train_x, ds.norm)
        before = accuracy(small, ds.val_x, ds.val_y, ds.norm)
        seed_all(seed)
        train_epochs(small, ds.train_x, ds.train_y, ds.norm, epochs=cfg["controlEpochs"], lr=cfg["lr"] / 2,
                     batch_size=cfg["batch"], label=f"{label} {method}", max_batches=cfg["maxBatches"])
        after = accuracy(small, ds.val_x, ds.val_y, ds.norm)
        rows.append({"method": method, "ratio": cfg["controlRatio"], "valBefore": before, "valAfter": after,
                     "seconds": time.time() - t0})
        log(f"{label} {method}: val before fine-tune {before:.4f}, after {after:.4f}")
        if on_row is not None:
            on_row(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="full")
    ap.add_argument("--out", help="output model folder (default models/<id>)")
    ap.add_argument("--work", help="checkpoint folder (default models/.work/<id>)")
    ap.add_argument("--data", help="dataset folder (Fashion-MNIST IDX gz files or CIFAR-10 python batches)")
    ap.add_argument("--dataset", choices=["fashion-mnist", "cifar10"], help="override the config's dataset")
    ap.add_argument("--cfg", choices=sorted(CFGS), help="override the layout (vgg11/vgg13/vgg16)")
    ap.add_argument("--width", type=float, help="override the width multiplier")
    ap.add_argument("--epochs", type=int, help="override the base training epochs")
    ap.add_argument("--id", help="override the model id")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                    help="training/evaluation device (auto = cuda when available); export stays on the CPU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fresh", action="store_true", help="ignore existing checkpoints")
    args = ap.parse_args(argv)

    cfg = dict(CONFIGS[args.config])
    for key, val in (("dataset", args.dataset), ("cfg", args.cfg), ("width", args.width),
                     ("epochs", args.epochs), ("id", args.id)):
        if val is not None:
            cfg[key] = val
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = args.out or os.path.join(here, cfg["id"])
    work = args.work or os.path.join(here, ".work", cfg["id"])
    if args.fresh and os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    seed_all(args.seed)
    t_start = time.time()
    report: dict = {"config": cfg, "phases": {}}
    report_path = os.path.join(work, "report.json")
    if os.path.exists(report_path) and not args.fresh:
        with open(report_path) as f:
            report = json.load(f)
        report["config"] = cfg

    def phase_done(name: str, info: dict) -> None:
        report["phases"][name] = info
        write_json(report_path, report)

    ds = load_dataset(cfg, args.data)
    log(f"{ds.name}: train {len(ds.train_x)} val {len(ds.val_x)} test {len(ds.test_x)}, input {ds.input_shape}")
    widths = block_widths(CFGS[cfg["cfg"]], cfg["width"])
    mb = cfg["maxBatches"]

    # 1. base training with the polarization term on channel gates
    base_ck = os.path.join(work, "base.pt")
    if os.path.exists(base_ck):
        base, _ = load(base_ck, dev)
        log("base: resumed from checkpoint")
    else:
        base, info = train_base(cfg, ds, args.seed, dev)
        save(base, base_ck)
        phase_done("base", info)
    gates = mean_gates(base, ds.val_x, ds.norm)
    report["gateSpreadBase"] = gate_spread(gates)

    # 2. control: attention vs L1 vs random ranking at the same ratio, before/after the same fine-tune
    if "control" not in report["phases"]:
        t0 = time.time()
        rows = control(base, gates, ds, cfg, args.seed)
        phase_done("control", {"rows": rows, "fineTuneEpochs": cfg["controlEpochs"], "seconds": time.time() - t0})

    # 3. compression-aware fine-tuning of the unpruned model (variant 0)
    ca_ck = os.path.join(work, variant_id(0.0) + ".pt")
    if os.path.exists(ca_ck):
        full, _ = load(ca_ck, dev)
        log("variant r000: resumed from checkpoint")
    else:
        full, _ = load(base_ck, dev)
        init_fills(full, ds)
        full.compress_prob = cfg["compressProb"]
        seed_all(args.seed + 1)
        t0 = time.time()
        hist = train_epochs(full, ds.train_x, ds.train_y, ds.norm, epochs=cfg["caEpochs"], lr=cfg["lr"] / 2,
                            batch_size=cfg["batch"], label="compression-aware r000", max_batches=mb)
        full.compress_prob = 0.0
        save(full, ca_ck)
        phase_done("r000", {"history": hist, "seconds": time.time() - t0})
    full_gates = mean_gates(full, ds.val_x, ds.norm)

    # 4. attention-pruned variants, each compression-aware fine-tuned
    nets = {0.0: full}
    for ratio in cfg["ratios"][1:]:
        ck = os.path.join(work, variant_id(ratio) + ".pt")
        if os.path.exists(ck):
            nets[ratio], _ = load(ck, dev)
            log(f"variant {variant_id(ratio)}: resumed from checkpoint")
            continue
        small = prune(full, keep_indices(rank_scores(full, "attention", full_gates), ratio))
        small = small.to(memory_format=torch.channels_last)
        recalibrate_bn(small, ds.train_x, ds.norm)
        before = accuracy(small, ds.val_x, ds.val_y, ds.norm)
        small.compress_prob = cfg["compressProb"]
        seed_all(args.seed + 2)
        t0 = time.time()
        hist = train_epochs(small, ds.train_x, ds.train_y, ds.norm, epochs=cfg["pruneEpochs"], lr=cfg["lr"] / 2,
                            batch_size=cfg["batch"], label=f"compression-aware {variant_id(ratio)}", max_batches=mb,
                            teacher=full if cfg.get("distill") else None)
        small.compress_prob = 0.0
        save(small, ck)
        nets[ratio] = small
        phase_done(variant_id(ratio), {"history": hist, "valBeforeFineTune": before, "seconds": time.time() - t0})

    # 5. accuracy of every uncompressed variant, export, manifest, golden
    variants = []
    for ratio in cfg["ratios"]:
        net = nets[ratio]
        acc = {"val": accuracy(net, ds.val_x, ds.val_y, ds.norm), "test": accuracy(net, ds.test_x, ds.test_y, ds.norm)}
        log(f"variant {variant_id(ratio)}: val {acc['val']:.4f} test {acc['test']:.4f}")
        net = net.cpu()  # export and golden logits on the CPU
        files = export_variant(net, os.path.join(out, variant_id(ratio)), out, ds.input_shape)
        variants.append({"ratio": ratio, "net": net, "accuracy": acc, "files": files})
    write_golden(out, ds, variants, n=cfg["golden"])
    manifest = write_manifest(cfg["id"], out, ds, variants, {
        "architecture": {"cfg": cfg["cfg"], "width": cfg["width"], "widths": widths,
                         "channelAttention": "squeeze-excitation gate after every conv",
                         "spatialAttention": "CBAM-style 7x7 conv on [mean, max] after each block's max-pool"},
        "data": {"dataset": ds.name, **ds.meta, "splits": {"train": len(ds.train_x), "val": len(ds.val_x),
                                                           "test": len(ds.test_x)}},
    })
    if ds.name == "fashion-mnist":
        write_splits(out, ds.name, 60000, len(ds.val_x), ds.meta["valSeed"], ds.meta["root"],
                     test_count=len(ds.test_x) if cfg["subset"] else None)
    # 6. learned bottlenecks of the unpruned variant (trained on the exported blocks, which stay frozen)
    if cfg.get("bottlenecks"):
        from .bottleneck import add_bottlenecks  # needs onnx, which training alone does not

        runs = []
        for spec in cfg["bottlenecks"]:
            point, channels, epochs = (int(x) for x in spec.split(":"))
            runs.append(add_bottlenecks(out, [(point, channels)], epochs=epochs, lr=cfg["bottleneckLr"],
                                        recon=cfg["bottleneckRecon"], max_batches=mb, seed=args.seed,
                                        data_dir=args.data, device=args.device))
        report["bottlenecks"] = {"runs": runs, "hash": runs[-1]["hash"]}
        manifest["hash"] = runs[-1]["hash"]
    report["variants"] = [{"ratio": v["ratio"], "accuracy": v["accuracy"],
                           "blocks": [{k: e[k] for k in ("block", "macs", "params", "bytes")} for e in v["files"]]}
                          for v in variants]
    report["totalSeconds"] = time.time() - t_start
    report["hash"] = manifest["hash"]
    write_json(report_path, report)
    shutil.copy(report_path, os.path.join(out, "training-report.json"))
    log(f"done in {report['totalSeconds']:.0f}s: {out}/manifest.json ({manifest['hash']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
