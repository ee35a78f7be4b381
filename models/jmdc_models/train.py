"""Training, evaluation and BN recalibration loops (seeded, with a progress line).

The loops run on the device of the network's parameters (CPU unless the net was moved); images stay uint8
numpy arrays on the host, each batch is augmented and normalized there, then moved to that device.
"""
from __future__ import annotations

import math
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import Normalization, normalize
from .net import Net


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """cpu | cuda | auto (cuda when available). On CUDA, TF32 is off so results compare with the CPU's fp32;
    cuDNN picks its fastest convolution algorithm per shape."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device available")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    return dev


def net_device(net: torch.nn.Module) -> torch.device:
    return next(net.parameters()).device


def to_input(x_uint8, norm: Normalization, device: torch.device) -> torch.Tensor:
    """uint8 images (host) -> normalized channels-last float batch on `device`."""
    x = normalize(x_uint8, norm).contiguous(memory_format=torch.channels_last)
    return x.to(device)


class Progress:
    """One self-overwriting status line on a TTY, a line every ~10% otherwise (logs stay readable)."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.start = label, total, time.time()
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def update(self, done: int, extra: str = "") -> None:
        elapsed = time.time() - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        line = f"{self.label} {done}/{self.total} {100 * done / self.total:5.1f}% {elapsed:6.0f}s eta {eta:5.0f}s {extra}"
        decile = 10 * done // self.total
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
            if done == self.total:
                sys.stderr.write("\n")
        elif decile != self.last_decile:
            sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {line}\n")
        self.last_decile = decile
        sys.stderr.flush()


def augment(x: torch.Tensor, pad: int, flip: bool) -> torch.Tensor:
    """Random translation by up to `pad` pixels (zero fill in uint8 space = background) and horizontal flip."""
    n, c, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))
        dx = torch.randint(0, 2 * pad + 1, (n,))
        dy = torch.randint(0, 2 * pad + 1, (n,))
        x = _crop(padded, dx, dy, h, w)
    if flip:
        m = torch.rand(n) < 0.5
        x = torch.where(m.view(n, 1, 1, 1), x.flip(3), x)
    return x


def _crop(padded: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, h: int, w: int) -> torch.Tensor:
    n, c = padded.shape[:2]
    rows = (dy[:, None] + torch.arange(h)[None])  # [n, h]
    cols = (dx[:, None] + torch.arange(w)[None])  # [n, w]
    idx_r = rows.view(n, 1, h, 1).expand(n, c, h, padded.shape[3])
    tmp = padded.gather(2, idx_r)
    idx_c = cols.view(n, 1, 1, w).expand(n, c, h, w)
    return tmp.gather(3, idx_c)


def polarization(net: Net, t: float = 1.2) -> torch.Tensor:
    """Pushes channel-gate values apart (some towards 0, the rest up): t*mean(g) - mean|g - mean(g)|.

    Computed on the batch-mean gate of every conv; makes the attention ranking separate channels.
    """
    terms = []
    for gate in net.gates():
        g = gate.last_gate.mean(dim=0)
        terms.append(t * g.mean() - (g - g.mean()).abs().mean())
    return torch.stack(terms).mean()


def train_epochs(net: Net, x: np.ndarray, y: np.ndarray, norm: Normalization, *, epochs: int, lr: float,
                 batch_size: int = 128, weight_decay: float = 5e-4, polar: float = 0.0, aug_pad: int = 2,
                 flip: bool = True, label: str = "train", max_batches: int | None = None,
                 teacher: Net | None = None, kd_alpha: float = 0.5, kd_temp: float = 4.0) -> list[dict]:
    """SGD (nesterov) with a one-cycle schedule; returns one record per epoch.

    With a `teacher`, the loss mixes cross-entropy with distillation towards the teacher's uncompressed
    logits: (1 - kd_alpha) * CE + kd_alpha * T^2 * KL(teacher_T || student_T).
    """
    if teacher is not None:
        teacher.eval()
    params_decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    params_no = [p for n, p in net.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": params_decay, "weight_decay": weight_decay},
                           {"params": params_no, "weight_decay": 0.0}], lr=lr, momentum=0.9, nesterov=True)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    if max_batches is not None:
        steps_per_epoch = min(steps_per_epoch, max_batches)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15, div_factor=10, final_div_factor=100)
    xt = torch.as_tensor(x)
    yt = torch.as_tensor(y)
    dev = net_device(net)
    history = []
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(xt))
        prog = Progress(f"{label} epoch {epoch + 1}/{epochs}", steps_per_epoch)
        # running sums stay on the device (no host sync per step), float64 like Python floats
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        correct = torch.zeros((), dtype=torch.int64, device=dev)
        seen = 0
        t0 = time.time()
        for step in range(steps_per_epoch):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            xb = to_input(augment(xt[idx], aug_pad, flip), norm, dev)
            yb = yt[idx].to(dev)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(xb)
                kd = F.kl_div(F.log_softmax(logits / kd_temp, 1), F.log_softmax(t_logits / kd_temp, 1),
                              reduction="batchmean", log_target=True) * kd_temp ** 2
                loss = (1 - kd_alpha) * loss + kd_alpha * kd
            total = loss + polar * polarization(net) if polar > 0 else loss
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach().double() * len(idx)
            correct += (logits.argmax(1) == yb).sum()
            seen += len(idx)
            if step % 10 == 0 or step == steps_per_epoch - 1:
                prog.update(step + 1, f"loss {loss_sum.item() / seen:.4f} acc {correct.item() / seen:.4f}")
        history.append({"epoch": epoch + 1, "loss": loss_sum.item() / seen, "trainAcc": correct.item() / seen,
                        "seconds": time.time() - t0})
    return history


@torch.no_grad()
def predict(net: Net, x: np.ndarray, norm: Normalization, batch_size: int = 500) -> np.ndarray:
    net.eval()
    dev = net_device(net)
    out = []
    for i in range(0, len(x), batch_size):
        out.append(net(to_input(x[i:i + batch_size], norm, dev)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, net.num_classes), np.float32)


def accuracy(net: Net, x: np.ndarray, y: np.ndarray, norm: Normalization) -> float:
    return float((predict(net, x, norm).argmax(1) == y).mean())


@torch.no_grad()
def recalibrate_bn(net: Net, x: np.ndarray, norm: Normalization, batches: int = 40, batch_size: int = 128) -> None:
    """Re-estimate BatchNorm running statistics (stale after pruning) with cumulative averaging."""
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    prob, net.compress_prob = net.compress_prob, 0.0
    dev = net_device(net)
    gen = torch.Generator().manual_seed(1234)
    perm = torch.randperm(len(x), generator=gen)
    for i in range(min(batches, math.ceil(len(x) / batch_size))):
        idx = perm[i * batch_size:(i + 1) * batch_size].numpy()
        net(to_input(x[idx], norm, dev))
    net.compress_prob = prob
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    net.eval()


@torch.no_grad()
def mean_gates(net: Net, x: np.ndarray, norm: Normalization, batch_size: int = 500) -> list[torch.Tensor]:
    """Mean channel-attention weight of every conv over the given images (CPU tensors, whatever the net's device)."""
    net.eval()
    dev = net_device(net)
    sums = None
    for i in range(0, len(x), batch_size):
        net(to_input(x[i:i + batch_size], norm, dev))
        gs = [g.last_gate.sum(0) for g in net.gates()]
        sums = gs if sums is None else [a + b for a, b in zip(sums, gs)]
    return [(s / len(x)).cpu() for s in sums]
