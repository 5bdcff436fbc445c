"""The transformer of MuQ-MuLan's two towers, as trained (lucidrains' musiclm-pytorch blocks, kept by MuQ):
pre-norm layers of biasless LayerNorm, attention with l2-normalised queries and keys (learned per-dimension
scales, logits times 8) and a GEGLU feed-forward. Parameter names match the checkpoint's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """LayerNorm with a learned scale and no bias (the checkpoint keeps `learned_gamma`)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.learned_gamma = nn.Parameter(torch.ones(dim))
        self.register_buffer("beta", torch.zeros(dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.learned_gamma, self.beta)


class GEGLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    hidden = int(dim * mult * 2 / 3)
    return nn.Sequential(LayerNorm(dim), nn.Linear(dim, hidden * 2, bias=False), GEGLU(), nn.Dropout(0.0),
                         nn.Linear(hidden, dim, bias=False))


class Attention(nn.Module):
    """[B, N, dim] -> [B, N, dim]: cosine-similarity attention (scale 8), no mask (MuQ-MuLan's towers pass none)."""

    def __init__(self, dim: int, dim_head: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim_head * heads, bias=False)
        self.to_kv = nn.Linear(dim, dim_head * heads * 2, bias=False)
        self.q_scale = nn.Parameter(torch.ones(dim_head))
        self.k_scale = nn.Parameter(torch.ones(dim_head))
        self.to_out = nn.Sequential(nn.Linear(dim_head * heads, dim, bias=False), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        q, k, v = self.to_q(x), *self.to_kv(x).chunk(2, dim=-1)
        q, k, v = (t.unflatten(-1, (self.heads, -1)).transpose(1, 2) for t in (q, k, v))  # [B, H, N, d]
        q = F.normalize(q, dim=-1) * self.q_scale
        k = F.normalize(k, dim=-1) * self.k_scale
        attention = (q @ k.transpose(-1, -2) * 8).softmax(dim=-1)
        return self.to_out((attention @ v).transpose(1, 2).flatten(2))


class Transformer(nn.Module):
    """`depth` residual (attention, feed-forward) pairs; depth 0 is the identity (MuQ-MuLan's audio tower)."""

    def __init__(self, dim: int, depth: int, dim_head: int = 64, heads: int = 8, ff_mult: int = 4) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, dim_head, heads), feed_forward(dim, ff_mult)]) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attention, ff in self.layers:
            x = attention(x) + x
            x = ff(x) + x
        return x
