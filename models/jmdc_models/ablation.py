"""Seed x polarization ablation of the pruning ranking (the pipeline's phases 1 and 2, repeated).

For every seed in --seeds and polarization strength in --polar: train the base network as the config does
(phase 1 with that `polar`), record its validation accuracy and per-conv gate spread, then run the control
(phase 2): attention vs L1 vs random ranking at the config's `controlRatio`, BN re-estimated, validation
accuracy before and after `controlEpochs` of fine-tuning. The JSON (--out) holds one row per (seed, polar)
and a summary per (polar, ranking) with the mean and sample std over seeds; it is rewritten after every
finished ranking, so a run stopped by a time limit keeps what it measured. A Markdown table goes to stdout.

    python -m jmdc_models.ablation --config tiny --seeds 0,1 --polar 0.05,0.2 --jobs 2   # seconds on a CPU
    python -m jmdc_models.ablation --device cuda --control-epochs 1 --jobs 6              # 3 seeds x 2 polar

With --jobs N > 1 every (seed, polar) runs in its own subprocess (at most N at a time), each writing
<out>.parts/s<seed>-p<polar>.json; the parent merges those into --out every few seconds and at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import torch

from .pipeline import CONFIGS, CONTROL_METHODS, control, load_dataset, log, train_base
from .prune import gate_spread
from .train import mean_gates, resolve_device

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(HERE, ".work", "ablation.json")
STRONG_POLAR = 0.3


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def gate_iqr_over_median(spread: list[dict]) -> float:
    """Mean over convs of (q75 - q25) / median of the mean gate values: how far the gates separate channels."""
    return statistics.fmean((s["q75"] - s["q25"]) / max(s["median"], 1e-12) for s in spread)


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None, "n": len(values)}


def summarize(rows: list[dict]) -> dict:
    """Per polar: base accuracy, gate spread, s/epoch; per (polar, ranking): before/after val accuracy."""
    polars = sorted({r["polar"] for r in rows})
    base, rankings = [], []
    for p in polars:
        rs = [r for r in rows if r["polar"] == p and "baseValAcc" in r]
        epoch_s = [h["seconds"] for r in rs for h in r["baseHistory"]]
        base.append({"polar": p, "seeds": sorted(r["seed"] for r in rs),
                     "baseValAcc": _mean_std([r["baseValAcc"] for r in rs]),
                     "gateIqrOverMedian": _mean_std([r["gateIqrOverMedian"] for r in rs]),
                     "secondsPerEpoch": statistics.fmean(epoch_s) if epoch_s else None})
        for m in CONTROL_METHODS:
            cs = [c for r in rs for c in r.get("control", []) if c["method"] == m]
            rankings.append({"polar": p, "method": m, "valBefore": _mean_std([c["valBefore"] for c in cs]),
                             "valAfter": _mean_std([c["valAfter"] for c in cs])})
    return {"base": base, "rankings": rankings}


def _pct(ms: dict) -> str:
    if ms["mean"] is None:
        return "-"
    std = f" ± {100 * ms['std']:.2f}" if ms["std"] is not None else ""
    return f"{100 * ms['mean']:.2f}%{std}"


def markdown(doc: dict) -> str:
    s = doc["summary"]
    lines = ["| polar | seeds | base val | gate IQR / median | s/epoch (base) |", "|---:|---|---:|---:|---:|"]
    for b in s["base"]:
        iqr = b["gateIqrOverMedian"]
        lines.append(f"| {b['polar']:g} | {','.join(map(str, b['seeds']))} | {_pct(b['baseValAcc'])} | "
                     f"{'-' if iqr['mean'] is None else format(iqr['mean'], '.3f')} | "
                     f"{'-' if b['secondsPerEpoch'] is None else format(b['secondsPerEpoch'], '.1f')} |")
    lines += ["", "| polar | ranking | n | val before fine-tuning | val after fine-tuning |", "|---:|---|---:|---:|---:|"]
    for r in s["rankings"]:
        lines.append(f"| {r['polar']:g} | {r['method']} | {r['valAfter']['n']} | {_pct(r['valBefore'])} | "
                     f"{_pct(r['valAfter'])} |")
    return "\n".join(lines)


def write_doc(path: str, settings: dict, rows: list[dict]) -> dict:
    rows = sorted(rows, key=lambda r: (r["polar"], r["seed"]))
    doc = {"settings": settings, "rows": rows, "summary": summarize(rows)}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)  # readers never see a half-written file
    return doc


def run_one(cfg: dict, ds, seed: int, polar: float, device: torch.device, on_update) -> dict:
    """Phases 1 and 2 for one (seed, polar); `on_update(row)` after the base model and after every ranking."""
    tag = f"s{seed} p{polar:g}"
    t0 = time.time()
    row = {"seed": seed, "polar": polar, "device": str(device), "done": False}
    base, info = train_base({**cfg, "polar": polar}, ds, seed, device, label=f"{tag} base")
    gates = mean_gates(base, ds.val_x, ds.norm)
    spread = gate_spread(gates)
    row.update({"baseValAcc": info["valAcc"], "baseSeconds": info["seconds"], "baseHistory": info["history"],
                "gateSpread": spread, "gateIqrOverMedian": gate_iqr_over_median(spread), "control": []})
    on_update(row)

    def on_row(rows: list[dict]) -> None:
        row["control"] = list(rows)
        on_update(row)

    control(base, gates, ds, cfg, seed, label=f"{tag} control", on_row=on_row)
    row.update({"done": True, "seconds": time.time() - t0})
    on_update(row)
    log(f"{tag}: finished in {row['seconds']:.0f} s")
    return row


def _part_name(seed: int, polar: float) -> str:
    return f"s{seed}-p{polar:g}.json"


def run_jobs(args, combos: list[tuple[int, float]], settings: dict, rows: list[dict]) -> list[dict]:
    """Each (seed, polar) in a subprocess, at most args.jobs at once; their JSON files merged into args.out.

    `rows` is refilled with the merged rows at every merge, so the caller has them even after an interrupt."""
    parts_dir = args.out + ".parts"
    os.makedirs(parts_dir, exist_ok=True)
    for name in os.listdir(parts_dir):
        os.remove(os.path.join(parts_dir, name))
    pending, running, failed = list(combos), {}, []

    def merge() -> list[dict]:
        merged = []
        for name in sorted(os.listdir(parts_dir)):
            if name.endswith(".json"):
                with open(os.path.join(parts_dir, name)) as f:
                    merged += json.load(f)["rows"]
        rows[:] = merged
        write_doc(args.out, settings, rows)
        return rows

    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                seed, polar = pending.pop(0)
                cmd = [sys.executable, "-m", "jmdc_models.ablation", "--config", args.config, "--seeds", str(seed),
                       "--polar", repr(polar), "--device", args.device, "--threads", str(args.threads), "--jobs", "1",
                       "--out", os.path.join(parts_dir, _part_name(seed, polar)), "--no-table"]
                for opt, val in (("--epochs", args.epochs), ("--control-epochs", args.control_epochs),
                                 ("--data", args.data)):
                    if val is not None:
                        cmd += [opt, str(val)]
                running[(seed, polar)] = subprocess.Popen(cmd, cwd=HERE)
                log(f"started s{seed} p{polar:g} (pid {running[(seed, polar)].pid})")
            time.sleep(2)
            for key, proc in list(running.items()):
                if proc.poll() is not None:
                    del running[key]
                    if proc.returncode != 0:
                        failed.append(key)
                        log(f"s{key[0]} p{key[1]:g} exited with {proc.returncode}")
            merge()
    finally:
        for proc in running.values():
            proc.terminate()
        for proc in running.values():
            proc.wait()
        merge()
    if failed:
        log(f"failed: {', '.join(f's{s} p{p:g}' for s, p in failed)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="full")
    ap.add_argument("--seeds", type=_ints, default=[0, 1, 2], help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--polar", type=_floats,
                    help=f"comma-separated polarization strengths (default: the config's and {STRONG_POLAR})")
    ap.add_argument("--epochs", type=int, help="override the base training epochs")
    ap.add_argument("--control-epochs", type=int, help="override the fine-tune epochs of each ranking")
    ap.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto", help="auto = cuda when available")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads per process")
    ap.add_argument("--data", help="dataset folder (default: the config's standard location)")
    ap.add_argument("--jobs", type=int, default=1, help="(seed, polar) runs in parallel, one subprocess each")
    ap.add_argument("--out", default=DEFAULT_OUT, help="result JSON (default models/.work/ablation.json)")
    ap.add_argument("--no-table", action="store_true", help="skip the Markdown table on stdout")
    args = ap.parse_args(argv)

    cfg = dict(CONFIGS[args.config])
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    if args.control_epochs is not None:
        cfg["controlEpochs"] = args.control_epochs
    polars = args.polar or sorted({cfg["polar"], STRONG_POLAR})
    combos = [(s, p) for p in polars for s in args.seeds]
    args.out = os.path.abspath(args.out)
    if args.data:
        args.data = os.path.abspath(args.data)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    settings = {"config": args.config, "cfg": cfg["cfg"], "width": cfg["width"], "epochs": cfg["epochs"],
                "controlEpochs": cfg["controlEpochs"], "controlRatio": cfg["controlRatio"], "lr": cfg["lr"],
                "batch": cfg["batch"], "maxBatches": cfg["maxBatches"], "seeds": args.seeds, "polar": polars,
                "device": args.device, "torch": torch.__version__, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    # a stop from a time limit (SIGTERM) still merges and writes what was measured
    prev_handler = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.time()
    rows: list[dict] = []
    try:
        if args.jobs > 1 and len(combos) > 1:
            log(f"{len(combos)} runs, {args.jobs} at a time -> {args.out}")
            rows = run_jobs(args, combos, settings, rows)
        else:
            torch.set_num_threads(args.threads)
            dev = resolve_device(args.device)
            settings["device"] = str(dev)
            ds = load_dataset(cfg, args.data)
            log(f"{ds.name}: train {len(ds.train_x)} val {len(ds.val_x)}; {len(combos)} runs on {dev} -> {args.out}")
            for seed, polar in combos:
                rows.append({"seed": seed, "polar": polar, "done": False})

                def update(row: dict, i: int = len(rows) - 1) -> None:
                    rows[i] = dict(row)
                    write_doc(args.out, settings, rows)

                run_one(cfg, ds, seed, polar, dev, update)
    except (KeyboardInterrupt, SystemExit) as e:
        log(f"stopped ({type(e).__name__}); {args.out} holds the runs measured so far")
    finally:
        signal.signal(signal.SIGTERM, prev_handler)
    doc = write_doc(args.out, {**settings, "seconds": time.time() - t0}, rows)
    log(f"{sum(r.get('done', False) for r in rows)}/{len(combos)} runs done in {time.time() - t0:.0f} s: {args.out}")
    if not args.no_table:
        print(markdown(doc), flush=True)
    return 0 if all(r.get("done") for r in rows) and len(rows) == len(combos) else 1


if __name__ == "__main__":
    sys.exit(main())
