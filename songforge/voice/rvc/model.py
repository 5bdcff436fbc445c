"""RVC v2's voice model, SynthesizerTrnMs768NSFsid, for inference: content features + pitch -> prior (text
encoder) -> flow reversed -> NSF-HiFiGAN decoder. Knows nothing of files, F0 tracking or the feature index.

Parameter names are those of the `weight` dict RVC's trainer saves (`enc_p.*`, `flow.*`, `dec.*`, `emb_g.*`);
the posterior encoder (`enc_q`) is training-only and the trainer leaves it out, as this model does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import EngineError
from .layers import WN, Encoder
from .nsf import NSFGenerator

FEATURE_DIM = 768  # v2: ContentVec's last layer; v1 voices (256, a projection of layer 9) are not supported
PITCH_BINS = 256  # coarse pitch embedding: 1 = unvoiced, 2..255 = 50..1100 Hz on the mel scale
PRIOR_NOISE = 0.66666  # the scale RVC samples the prior with at inference
RATES = {"32k": 32000, "40k": 40000, "48k": 48000}


@dataclass(frozen=True)
class SynthConfig:
    """The hyper-parameters RVC writes as a voice's `config` list, in that order (18 entries)."""

    spec_channels: int
    segment_size: int
    inter_channels: int
    hidden_channels: int
    filter_channels: int
    n_heads: int
    n_layers: int
    kernel_size: int
    p_dropout: float
    resblock: str
    resblock_kernel_sizes: list[int]
    resblock_dilation_sizes: list[list[int]]
    upsample_rates: list[int]
    upsample_initial_channel: int
    upsample_kernel_sizes: list[int]
    spk_embed_dim: int
    gin_channels: int
    sample_rate: int

    @classmethod
    def from_list(cls, values: list[Any]) -> "SynthConfig":
        """From a checkpoint's `config` list; EngineError if it is not the 18 entries RVC writes."""
        if not isinstance(values, (list, tuple)) or len(values) != 18:
            raise EngineError(f"a voice's 'config' must be RVC's list of 18 hyper-parameters, got "
                              f"{type(values).__name__} of {len(values) if isinstance(values, (list, tuple)) else 0}")
        values = list(values)
        values[-1] = RATES.get(values[-1], values[-1])  # old files write the rate as '40k'
        return cls(*values)

    @property
    def hop(self) -> int:
        """Output samples per frame (10 ms at every RVC rate)."""
        return math.prod(self.upsample_rates)


class TextEncoder(nn.Module):
    """Content features and coarse pitch -> the prior's mean and log-scale per frame."""

    def __init__(self, config: SynthConfig):
        super().__init__()
        self.hidden = config.hidden_channels
        self.out_channels = config.inter_channels
        self.emb_phone = nn.Linear(FEATURE_DIM, config.hidden_channels)
        self.emb_pitch = nn.Embedding(PITCH_BINS, config.hidden_channels)
        self.encoder = Encoder(config.hidden_channels, config.filter_channels, config.n_heads, config.n_layers,
                               config.kernel_size)
        self.proj = nn.Conv1d(config.hidden_channels, config.inter_channels * 2, 1)

    def forward(self, phone: Tensor, pitch: Tensor) -> tuple[Tensor, Tensor]:
        """phone [B, T, 768], pitch [B, T] (long) -> mean, log-scale, each [B, inter, T]."""
        x = (self.emb_phone(phone) + self.emb_pitch(pitch)) * math.sqrt(self.hidden)
        x = self.encoder(F.leaky_relu(x, 0.1).transpose(1, 2))
        return self.proj(x).split(self.out_channels, dim=1)


class Coupling(nn.Module):
    """A mean-only affine coupling layer: the second half of the channels shifted by a WN of the first."""

    def __init__(self, channels: int, hidden: int, gin_channels: int, kernel_size: int = 5, n_layers: int = 3):
        super().__init__()
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden, 1)
        self.enc = WN(hidden, kernel_size, 1, n_layers, gin_channels)
        self.post = nn.Conv1d(hidden, self.half, 1)

    def reverse(self, x: Tensor, g: Tensor) -> Tensor:
        x0, x1 = x.split(self.half, dim=1)
        return torch.cat([x0, x1 - self.post(self.enc(self.pre(x0), g))], dim=1)


class Flip(nn.Module):
    """Reverses the channel order between couplings (no parameters; keeps the checkpoint's flow indexes)."""

    def reverse(self, x: Tensor, g: Tensor) -> Tensor:
        return torch.flip(x, [1])


class Flow(nn.Module):
    """Four couplings, each followed by a flip (checkpoint indexes 0, 2, 4, 6 hold the couplings)."""

    def __init__(self, channels: int, hidden: int, gin_channels: int, n_flows: int = 4):
        super().__init__()
        self.flows = nn.ModuleList(layer for _ in range(n_flows)
                                   for layer in (Coupling(channels, hidden, gin_channels), Flip()))

    def reverse(self, z: Tensor, g: Tensor) -> Tensor:
        for layer in reversed(self.flows):
            z = layer.reverse(z, g)
        return z


class SynthesizerTrnMs768NSFsid(nn.Module):
    """RVC v2 with pitch guidance, inference only."""

    def __init__(self, config: SynthConfig):
        super().__init__()
        self.config = config
        self.enc_p = TextEncoder(config)
        self.flow = Flow(config.inter_channels, config.hidden_channels, config.gin_channels)
        self.dec = NSFGenerator(config.inter_channels, config.resblock, config.resblock_kernel_sizes,
                                config.resblock_dilation_sizes, config.upsample_rates, config.upsample_initial_channel,
                                config.upsample_kernel_sizes, config.gin_channels, config.sample_rate)
        self.emb_g = nn.Embedding(config.spk_embed_dim, config.gin_channels)

    @torch.inference_mode()
    def infer(self, phone: Tensor, pitch: Tensor, f0: Tensor, speaker: int = 0,
              generator: torch.Generator | None = None, phase: float = 0.0) -> Tensor:
        """phone [1, T, 768] content features, pitch [1, T] coarse bins, f0 [1, T] Hz (0 = unvoiced), all at
        100 frames a second -> audio [1, T * hop] at the model's rate. `generator` seeds the prior's noise and
        the excitation's, so that the same call gives the same audio; `phase` (cycles) starts the excitation's
        sine (a window of a longer file: the phase the whole file's excitation has there)."""
        g = self.emb_g(torch.tensor([speaker], device=phone.device)).unsqueeze(-1)
        mean, log_scale = self.enc_p(phone, pitch)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = self.flow.reverse(mean + torch.exp(log_scale) * noise * PRIOR_NOISE, g)
        return self.dec(z, f0, g, generator, phase)[:, 0]
