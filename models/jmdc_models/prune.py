"""Channel pruning: rank each conv's channels, drop the lowest fraction, rebuild the smaller network."""
from __future__ import annotations

import numpy as np
import torch

from .net import Net


def rank_scores(net: Net, method: str, gates_mean: list[torch.Tensor] | None = None, seed: int = 0) -> list[torch.Tensor]:
    """One score per output channel of every conv (higher = keep). method: attention | l1 | random."""
    convs = [u for b in net.blocks for u in b.units]
    if method == "attention":
        if gates_mean is None:
            raise ValueError("attention ranking needs the mean channel-gate values")
        return [g.clone() for g in gates_mean]
    if method == "l1":
        return [u.conv.weight.detach().abs().sum(dim=(1, 2, 3)) for u in convs]
    if method == "random":
        gen = torch.Generator().manual_seed(seed)
        return [torch.rand(u.conv.out_channels, generator=gen) for u in convs]
    raise ValueError(f"unknown ranking method {method!r}")


def keep_indices(scores: list[torch.Tensor], ratio: float) -> list[torch.Tensor]:
    """Indices (sorted ascending) of the channels each conv keeps when `ratio` of them are removed."""
    out = []
    for s in scores:
        n_keep = max(1, int(round(len(s) * (1 - ratio))))
        order = torch.argsort(s, descending=True, stable=True)[:n_keep]
        out.append(torch.sort(order).values)
    return out


@torch.no_grad()
def prune(net: Net, keep: list[torch.Tensor]) -> Net:
    """A new Net holding only the kept channels of every conv, weights copied; on the same device as `net`."""
    units = [u for b in net.blocks for u in b.units]
    if len(keep) != len(units):
        raise ValueError(f"{len(keep)} keep lists for {len(units)} convs")
    keep = [k.cpu() for k in keep]
    widths, it = [], iter(keep)
    for b in net.blocks:
        widths.append([len(next(it)) for _ in b.units])
    small = Net(widths, net.in_channels, net.num_classes, se_hidden=net.se_hidden)
    new_units = [u for b in small.blocks for u in b.units]
    prev = torch.arange(net.in_channels)
    for old, new, k in zip(units, new_units, keep):
        new.conv.weight.copy_(old.conv.weight[k][:, prev])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(new.bn, name).copy_(getattr(old.bn, name)[k])
        new.gate.fc1.weight.copy_(old.gate.fc1.weight[:, k])
        new.gate.fc1.bias.copy_(old.gate.fc1.bias)
        new.gate.fc2.weight.copy_(old.gate.fc2.weight[k])
        new.gate.fc2.bias.copy_(old.gate.fc2.bias[k])
        prev = k
    for ob, nb in zip(net.blocks, small.blocks):
        nb.spatial.load_state_dict(ob.spatial.state_dict())
    last_keep = []
    it = iter(keep)
    for b in net.blocks:
        ks = [next(it) for _ in b.units]
        last_keep.append(ks[-1])
    for i, k in enumerate(last_keep):
        small.fills[i].copy_(net.fills[i][k])
    small.classifier.weight.copy_(net.classifier.weight[:, prev])
    small.classifier.bias.copy_(net.classifier.bias)
    return small.to(next(net.parameters()).device)


def gate_spread(gates_mean: list[torch.Tensor]) -> list[dict]:
    """Per-conv summary of the mean gate values (min, quartiles, max) to show whether attention separates channels."""
    rows = []
    for g in gates_mean:
        a = g.detach().cpu().numpy()
        rows.append({"min": float(a.min()), "q25": float(np.quantile(a, 0.25)), "median": float(np.median(a)),
                     "q75": float(np.quantile(a, 0.75)), "max": float(a.max())})
    return rows
