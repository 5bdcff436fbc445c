"""Int8 weight-only quantisation of the decoder's linear layers (gpt-fast's WeightOnlyInt8Linear idea).

Each output channel keeps one scale: w ≈ int8 * scale. Activations, norms, embeddings and the KV cache stay
in the model dtype, so stage 1's weights drop from 12.4 to 6.6 GB (a 16 GB card). torchao would do the
same, but each of its releases is built against one torch release; this module needs none.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .model import Transformer


def int8_per_channel(weight: Tensor) -> tuple[Tensor, Tensor]:
    """weight (out, in) -> int8 codes (out, in) and scales (out,) in the weight's dtype (symmetric, max-abs)."""
    w = weight.float()
    scales = w.abs().amax(dim=1).clamp(min=1e-8) / 127
    codes = torch.round(w / scales[:, None]).clamp(-128, 127).to(torch.int8)
    return codes, scales.to(weight.dtype)


class Int8Linear(nn.Module):
    """y = (x @ int8^T) * scale. Eager, the weight is widened per call (memory stays low, speed does not gain);
    under torch.compile the widening fuses into the matmul, which then reads half the bytes of bf16."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        codes, scales = int8_per_channel(linear.weight.detach())
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight", codes)
        self.register_buffer("scales", scales)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight.to(x.dtype)) * self.scales.to(x.dtype)


def quantize_int8(model: Transformer) -> Transformer:
    """Replace every linear layer of model (in place, the output head included) by an Int8Linear; returns it."""
    with torch.no_grad():
        for parent in [model, *model.modules()]:
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    setattr(parent, name, Int8Linear(child))
    return model


def weight_bytes(model: nn.Module) -> int:
    """Bytes of every parameter and persistent buffer (int8 codes count one byte each)."""
    tensors = [*model.parameters(), *(b for n, b in model.named_buffers() if n.endswith(("weight", "scales")))]
    return sum(t.numel() * t.element_size() for t in tensors)
