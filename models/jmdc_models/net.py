"""VGG-style CNN with a channel-attention gate after every conv and spatial attention at every block output.

The layout is a cfg list (ints are conv widths, "M" ends a block with 2x2 max-pool), so VGG11/VGG16 or
another width is a flag. Pruned variants are the same classes built from a smaller per-conv width list.
Every block returns (features, attention): the block output is a candidate partition point, and the
attention map [N, H, W] is what the codec uses to choose which spatial positions to send.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def block_widths(cfg: list, width: float) -> list[list[int]]:
    """cfg list + width multiplier -> conv widths grouped per block."""
    blocks, cur = [], []
    for item in cfg:
        if item == "M":
            blocks.append(cur)
            cur = []
        else:
            cur.append(max(4, int(round(item * width))))
    if cur:
        raise ValueError("cfg must end with 'M' (every block ends in a max-pool)")
    return blocks


class ChannelGate(nn.Module):
    """Squeeze-and-excitation gate: per-sample channel weights in (0, 1) that multiply the features."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.last_gate: torch.Tensor | None = None  # [N, C], kept for the sparsity term and ranking

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3))))))
        self.last_gate = g
        return x * g[:, :, None, None]


class ConvUnit(nn.Module):
    def __init__(self, cin: int, cout: int, se_hidden: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.gate = ChannelGate(cout, se_hidden)

    def forward(self, x):
        return self.gate(F.relu(self.bn(self.conv(x))))


class SpatialAttention(nn.Module):
    """CBAM-style spatial attention: sigmoid(conv7x7([mean_c, max_c])) -> [N, H, W]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x):
        s = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(s))[:, 0]


class Block(nn.Module):
    """convs (each with a channel gate) -> 2x2 max-pool -> spatial attention; returns (features, attention)."""

    def __init__(self, cin: int, widths: list[int], se_hidden: list[int]):
        super().__init__()
        units, c = [], cin
        for w, h in zip(widths, se_hidden):
            units.append(ConvUnit(c, w, h))
            c = w
        self.units = nn.ModuleList(units)
        self.spatial = SpatialAttention()

    def forward(self, x):
        for u in self.units:
            x = u(x)
        x = F.max_pool2d(x, 2)
        a = self.spatial(x)
        return x * a[:, None], a


@dataclass
class Compression:
    """Region selection + quantization applied to a partition point's features during fine-tuning."""

    keep: float  # fraction of spatial positions kept
    bits: int  # uniform quantization bits (per channel, min/max of the kept values)


def select_regions(features: torch.Tensor, attention: torch.Tensor, keep: float, fill: torch.Tensor | None):
    """Keep the top-k positions of `attention` per sample; elsewhere put `fill` (per channel) or zeros."""
    n, c, h, w = features.shape
    k = max(1, int(math.ceil(keep * h * w)))
    if k >= h * w:
        return features, torch.ones(n, h * w, dtype=torch.bool, device=features.device)
    idx = attention.reshape(n, -1).topk(k, dim=1).indices
    mask = torch.zeros(n, h * w, dtype=torch.bool, device=features.device)
    mask.scatter_(1, idx, True)
    m = mask.view(n, 1, h, w).to(features.dtype)
    base = torch.zeros_like(features) if fill is None else fill.view(1, c, 1, 1).expand_as(features)
    return features * m + base * (1 - m), mask


def fake_quantize(features: torch.Tensor, mask: torch.Tensor, bits: int):
    """Uniform b-bit quantization per sample and channel over the kept positions, straight-through gradient."""
    n, c, h, w = features.shape
    m = mask.view(n, 1, h * w)
    flat = features.reshape(n, c, h * w)
    big = torch.finfo(features.dtype).max
    lo = torch.where(m, flat, torch.full_like(flat, big)).amin(dim=2, keepdim=True)
    hi = torch.where(m, flat, torch.full_like(flat, -big)).amax(dim=2, keepdim=True)
    levels = (1 << bits) - 1
    scale = ((hi - lo) / levels).clamp_min(1e-12)
    q = torch.round((flat - lo) / scale).clamp(0, levels) * scale + lo
    q = torch.where(m, q, flat)  # dropped positions carry the fill value, which is not quantized
    return (flat + (q - flat).detach()).view(n, c, h, w)


class Net(nn.Module):
    def __init__(self, widths: list[list[int]], in_channels: int, num_classes: int, se_reduction: int = 8,
                 se_hidden: list[list[int]] | None = None, spatial: list[int] | None = None):
        super().__init__()
        if se_hidden is None:
            se_hidden = [[max(4, w // se_reduction) for w in b] for b in widths]
        self.widths = [list(b) for b in widths]
        self.se_hidden = [list(b) for b in se_hidden]
        self.in_channels = in_channels
        self.num_classes = num_classes
        blocks, c = [], in_channels
        for bw, bh in zip(widths, se_hidden):
            blocks.append(Block(c, bw, bh))
            c = bw[-1]
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Linear(c, num_classes)
        # Per-point fill value for dropped positions, learned during compression-aware fine-tuning.
        self.fills = nn.ParameterList([nn.Parameter(torch.zeros(b[-1])) for b in widths])
        self.compress_prob = 0.0
        self.compress_fill = True
        self.compression: tuple[int, Compression] | None = None  # fixed (point, setting) for evaluation

    def spec(self) -> dict:
        return {"widths": self.widths, "se_hidden": self.se_hidden, "in_channels": self.in_channels,
                "num_classes": self.num_classes}

    @staticmethod
    def from_spec(spec: dict) -> "Net":
        return Net(spec["widths"], spec["in_channels"], spec["num_classes"], se_hidden=spec["se_hidden"])

    def gates(self) -> list[ChannelGate]:
        return [u.gate for b in self.blocks for u in b.units]

    def _random_compression(self) -> tuple[int, Compression] | None:
        if self.compress_prob <= 0 or random.random() >= self.compress_prob:
            return None
        point = random.randint(1, len(self.blocks))
        keep = random.choice([1.0, 0.75, 0.5, 0.375, 0.25, 0.125])
        bits = random.randint(2, 8)
        return point, Compression(keep, bits)

    def forward(self, x):
        comp = self.compression if self.compression is not None else (
            self._random_compression() if self.training else None)
        for i, b in enumerate(self.blocks, start=1):
            x, a = b(x)
            if comp is not None and comp[0] == i:
                fill = self.fills[i - 1] if self.compress_fill else None
                x, mask = select_regions(x, a, comp[1].keep, fill)
                if comp[1].bits < 32:
                    x = fake_quantize(x, mask, comp[1].bits)
        return self.classifier(torch.flatten(x, 1))


def count_macs_params(net: Net, input_shape: list[int]) -> list[dict]:
    """MACs and parameters per block (the classifier is the last entry, block index len(blocks)+1)."""
    c, h, w = input_shape
    out = []
    for b in net.blocks:
        macs = params = 0
        for u in b.units:
            cout = u.conv.out_channels
            macs += u.conv.in_channels * cout * 9 * h * w + cout * h * w * 2  # conv + bn/relu-ish
            params += u.conv.weight.numel() + 2 * cout
            macs += u.gate.fc1.weight.numel() + u.gate.fc2.weight.numel() + cout * h * w
            params += sum(p.numel() for p in u.gate.parameters())
            c = cout
        h, w = h // 2, w // 2
        macs += 2 * 49 * h * w + c * h * w * 2
        params += sum(p.numel() for p in b.spatial.parameters())
        out.append({"macs": int(macs), "params": int(params), "outShape": [c, h, w]})
    out.append({"macs": int(net.classifier.weight.numel()), "params": int(sum(p.numel() for p in net.classifier.parameters())),
                "outShape": [net.num_classes]})
    return out
