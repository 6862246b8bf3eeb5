"""Adam with gradient-norm clipping: the slides' remedy for exploding gradients."""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray


def clip_by_global_norm(grads: dict[str, Array], max_norm: float) -> float:
    """Scale all gradients together so their joint L2 norm is at most `max_norm`. Returns the norm before."""
    norm = float(np.sqrt(sum(float((g * g).sum()) for g in grads.values())))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm


def cosine_rate(lr: float, step: int, steps: int) -> float:
    """The rate at `step` of `steps`: a cosine from `lr` down to a tenth of it, by step so a seed reproduces
    a run (a short run on the same `steps` is the start of the long one)."""
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))


class Adam:
    def __init__(self, params: dict[str, Array], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):  # fmt: skip
        self.params = params
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, Array], lr: float | None = None) -> None:
        self.t += 1
        lr = self.lr if lr is None else lr
        # fold both bias corrections into the step size
        a = lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for k, p in self.params.items():
            g = grads[k]
            m, v = self.m[k], self.v[k]
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= (a * m / (np.sqrt(v) + self.eps)).astype(p.dtype)
