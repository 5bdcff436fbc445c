"""The synthesizer's building blocks under the names RVC's checkpoints give them: a channel LayerNorm, the
relative-position self-attention encoder of VITS, and the WaveNet-style stack (WN) of its flow.

Inference on one sequence at a time: there are no padding masks. Weight norm is folded into plain weights
when a checkpoint loads (songforge.voice.rvc.voice), so every convolution here is a plain one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of [B, C, T] (RVC's `gamma` and `beta`)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        y = F.layer_norm(x.transpose(1, -1), (x.shape[1],), self.gamma, self.beta, self.eps)
        return y.transpose(1, -1)


class RelativeAttention(nn.Module):
    """Multi-head self-attention with learned relative positions within +-`window` frames (shared by the heads):
    score(i, j) = q_i.k_j + q_i.E_k[j - i], and output_i gains sum_j p(i, j) E_v[j - i], for |j - i| <= window."""

    def __init__(self, channels: int, n_heads: int, window: int = 10):
        super().__init__()
        assert channels % n_heads == 0
        self.n_heads, self.window, self.head_dim = n_heads, window, channels // n_heads
        self.conv_q, self.conv_k, self.conv_v, self.conv_o = (nn.Conv1d(channels, channels, 1) for _ in range(4))
        self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window + 1, self.head_dim) * self.head_dim ** -0.5)
        self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window + 1, self.head_dim) * self.head_dim ** -0.5)

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T] -> [B, C, T]."""
        b, c, t = x.shape
        q, k, v = (conv(x).view(b, self.n_heads, self.head_dim, t).transpose(2, 3)
                   for conv in (self.conv_q, self.conv_k, self.conv_v))  # each [B, H, T, D]
        q = q / math.sqrt(self.head_dim)
        scores = q @ k.transpose(-2, -1)  # [B, H, T, T]
        _add_band(scores, q @ self.emb_rel_k.transpose(-2, -1), self.window)  # [B, H, T, 2w+1] placed on diagonals
        weights = F.softmax(scores, dim=-1)
        out = weights @ v + _band(weights, self.window) @ self.emb_rel_v
        return self.conv_o(out.transpose(2, 3).reshape(b, c, t))


def _offsets(t: int, window: int) -> list[tuple[int, slice]]:
    """Each relative offset d in [-window, window] that fits in T frames, with the rows i whose i + d is a frame."""
    return [(d, slice(max(0, -d), t - max(0, d))) for d in range(-window, window + 1) if abs(d) < t]


def _add_band(scores: Tensor, relative: Tensor, window: int) -> None:
    """scores[..., i, i + d] += relative[..., i, d + window], in place, for every |d| <= window."""
    for d, rows in _offsets(scores.shape[-1], window):
        scores.diagonal(d, -2, -1).add_(relative[..., rows, d + window])


def _band(weights: Tensor, window: int) -> Tensor:
    """[B, H, T, T] -> [B, H, T, 2w+1]: band[..., i, d + window] = weights[..., i, i + d] (0 past either end)."""
    band = weights.new_zeros(*weights.shape[:-1], 2 * window + 1)
    for d, rows in _offsets(weights.shape[-1], window):
        band[..., rows, d + window] = weights.diagonal(d, -2, -1)
    return band


class FeedForward(nn.Module):
    """Two 'same'-padded convolutions with a ReLU between (kernel k: (k-1)//2 frames left, k//2 right)."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int):
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_2(F.pad(torch.relu(self.conv_1(F.pad(x, self.pad))), self.pad))


class Encoder(nn.Module):
    """Post-norm transformer layers: x = norm1(x + attention(x)); x = norm2(x + ffn(x))."""

    def __init__(self, channels: int, filter_channels: int, n_heads: int, n_layers: int, kernel_size: int):
        super().__init__()
        self.attn_layers = nn.ModuleList(RelativeAttention(channels, n_heads) for _ in range(n_layers))
        self.norm_layers_1 = nn.ModuleList(ChannelNorm(channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(FeedForward(channels, filter_channels, kernel_size) for _ in range(n_layers))
        self.norm_layers_2 = nn.ModuleList(ChannelNorm(channels) for _ in range(n_layers))

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T] -> [B, C, T]."""
        for attention, norm1, ffn, norm2 in zip(self.attn_layers, self.norm_layers_1, self.ffn_layers,
                                                self.norm_layers_2):
            x = norm1(x + attention(x))
            x = norm2(x + ffn(x))
        return x


class WN(nn.Module):
    """Gated dilated convolutions (WaveNet) conditioned on the speaker: tanh(a + g_a) * sigmoid(b + g_b), with
    residual and skip outputs; the last layer's output is all skip."""

    def __init__(self, channels: int, kernel_size: int, dilation_rate: int, n_layers: int, gin_channels: int):
        super().__init__()
        self.channels = channels
        self.cond_layer = nn.Conv1d(gin_channels, 2 * channels * n_layers, 1)
        self.in_layers = nn.ModuleList(
            nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation_rate ** i,
                      padding=(kernel_size * dilation_rate ** i - dilation_rate ** i) // 2) for i in range(n_layers))
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(channels, 2 * channels if i < n_layers - 1 else channels, 1) for i in range(n_layers))

    def forward(self, x: Tensor, g: Tensor) -> Tensor:
        """x [B, C, T], g [B, gin, 1] -> [B, C, T]."""
        conditions = self.cond_layer(g).split(2 * self.channels, dim=1)
        output = torch.zeros_like(x)
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers)):
            a, b = (in_layer(x) + conditions[i]).split(self.channels, dim=1)
            acts = res_skip(torch.tanh(a) * torch.sigmoid(b))
            if i < len(self.in_layers) - 1:
                x = x + acts[:, :self.channels]
                output = output + acts[:, self.channels:]
            else:
                output = output + acts
        return output
