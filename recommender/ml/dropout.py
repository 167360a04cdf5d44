"""Dropout whose masks are cheap to draw on the CPU.

torch's CPU dropout draws its mask with `bernoulli_`, one call of the Mersenne Twister per element
and single-threaded: at 100k users it was ~11% of a sequence-tower batch and ~8% of a graph-tower
batch (a 10M-element mask took ~100 ms; docs/benchmarks.md, "Tenth session"). Here each element
takes 16 random bits of numpy's PCG64, drawn 64 bits at a time: ~1 ms for 1.2M elements
instead of ~15 ms. The PCG64 stream is seeded by one draw from torch's default generator, so
`torch.manual_seed` still makes training reproducible. On other devices it is torch's own dropout.
The keep probability is 1 - p rounded to a multiple of 1/65536.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LEVELS = 1 << 16  # the mask's resolution: 16 random bits per element


def keep_mask(shape: torch.Size, p: float) -> Tensor:
    """A bool mask of `shape`, each element True with probability 1 - p (to 1/65536)."""
    count = int(np.prod(shape))
    seed = int(torch.randint(1 << 62, (1,)))  # torch's default generator: manual_seed governs the mask
    words = np.random.PCG64(seed).random_raw(-(-count // 4))  # 4 x 16 bits per 64-bit word
    levels = words.view(np.uint16)[:count]
    return torch.from_numpy(levels >= round(p * _LEVELS)).view(shape)


class Dropout(nn.Module):
    """nn.Dropout (inverted: kept elements scaled by 1 / (1 - p)) with keep_mask's masks on the CPU."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), not {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        scale = keep_mask(x.shape, self.p).to(x.dtype).mul_(1.0 / (1.0 - self.p))
        return x * scale

    def extra_repr(self) -> str:
        return f"p={self.p}"
