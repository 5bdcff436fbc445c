"""RVC's NSF-HiFiGAN decoder: a sine source at the sung F0 (neural source-filter) added at every upsampling stage
of a HiFi-GAN generator. Names as in RVC's checkpoints (`dec.*`); weight norm already folded into the weights.

Frames in, samples out: `upp` (the product of the upsample rates) output samples per frame, so frame j of the
input covers output samples [j * upp, (j + 1) * upp): the decoder adds no delay of its own.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_SLOPE = 0.1
SINE_AMP = 0.1  # the sine's amplitude where voiced
NOISE_STD = 0.003  # noise added to the sine where voiced; unvoiced frames get noise of SINE_AMP / 3


def _same(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """Three dilated convolutions, each followed by an undilated one, with residuals."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same(kernel_size, d)) for d in dilations)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, padding=_same(kernel_size))
                                    for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """Two dilated convolutions with residuals (RVC's resblock "2")."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same(kernel_size, d))
                                   for d in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class SineSource(nn.Module):
    """The excitation: a sine at F0 where voiced (plus a little noise), noise where not, merged by one linear unit."""

    def __init__(self, sample_rate: int):
        super().__init__()
        self.sample_rate = sample_rate
        self.l_linear = nn.Linear(1, 1)  # RVC's harmonic_num is 0: the fundamental only

    def forward(self, f0: Tensor, upp: int, generator: torch.Generator | None = None, phase: float = 0.0) -> Tensor:
        """f0 [B, T] in Hz (0 = unvoiced) -> excitation [B, 1, T * upp] at the model's rate.

        Each frame's F0 holds for its `upp` samples; the phase (in cycles, from `phase` at the first sample) is
        their running sum, in float64 so that a long file keeps its pitch: what RVC's wrapped-phase arithmetic
        computes. A window of a longer file passes the phase the file has there, so that overlapping windows
        excite in phase and their crossfade does not cancel.
        """
        per_sample = f0.repeat_interleave(upp, dim=1).double()  # [B, T * upp]
        phase = (phase + torch.cumsum(per_sample / self.sample_rate, dim=1)) % 1.0
        sine = SINE_AMP * torch.sin(2 * math.pi * phase).to(f0.dtype)
        voiced = (per_sample > 0).to(f0.dtype)
        noise = torch.randn(sine.shape, generator=generator, device=sine.device, dtype=sine.dtype)
        excitation = sine * voiced + (voiced * NOISE_STD + (1 - voiced) * SINE_AMP / 3) * noise
        weight = self.l_linear.weight
        return torch.tanh(self.l_linear(excitation.unsqueeze(-1).to(weight.dtype))).transpose(1, 2)


class NSFGenerator(nn.Module):
    """HiFi-GAN upsampling stages, each adding the excitation brought down to its rate by a strided convolution."""

    def __init__(self, in_channels: int, resblock: str, resblock_kernel_sizes: list[int],
                 resblock_dilation_sizes: list[list[int]], upsample_rates: list[int], upsample_initial_channel: int,
                 upsample_kernel_sizes: list[int], gin_channels: int, sample_rate: int):
        super().__init__()
        self.upp = math.prod(upsample_rates)
        self.n_kernels = len(resblock_kernel_sizes)
        self.m_source = SineSource(sample_rate)
        self.conv_pre = nn.Conv1d(in_channels, upsample_initial_channel, 7, padding=3)
        self.cond = nn.Conv1d(gin_channels, upsample_initial_channel, 1)
        block = ResBlock1 if str(resblock) == "1" else ResBlock2
        self.ups, self.noise_convs, self.resblocks = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(upsample_rates, upsample_kernel_sizes)):
            channels = upsample_initial_channel // 2 ** (i + 1)
            self.ups.append(nn.ConvTranspose1d(channels * 2, channels, kernel, rate, padding=(kernel - rate) // 2))
            stride = math.prod(upsample_rates[i + 1:])  # from the output rate down to this stage's
            last = i + 1 == len(upsample_rates)
            self.noise_convs.append(nn.Conv1d(1, channels, 1) if last
                                    else nn.Conv1d(1, channels, stride * 2, stride, padding=stride // 2))
            self.resblocks.extend(block(channels, k, tuple(d))
                                  for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes))
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3, bias=False)

    def forward(self, x: Tensor, f0: Tensor, g: Tensor, generator: torch.Generator | None = None,
                phase: float = 0.0) -> Tensor:
        """x [B, C, T] latent frames, f0 [B, T] Hz, g [B, gin, 1] speaker -> audio [B, 1, T * upp] in [-1, 1]."""
        source = self.m_source(f0, self.upp, generator, phase)
        x = self.conv_pre(x) + self.cond(g)
        for i, (up, noise_conv) in enumerate(zip(self.ups, self.noise_convs)):
            x = up(F.leaky_relu(x, LRELU_SLOPE)) + noise_conv(source)
            blocks = self.resblocks[i * self.n_kernels:(i + 1) * self.n_kernels]
            x = sum(block(x) for block in blocks) / self.n_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))
