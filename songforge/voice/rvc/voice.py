"""A user's RVC voice (`.pth`, as RVC's trainer saves it): read with torch.load(weights_only=True), checked, and
built into the v2 synthesizer with its weight norm folded into plain weights (the explicit checkpoint map).

RVC's trainer writes {"weight": {name: fp16 tensor}, "config": [18 hyper-parameters], "info": "...",
"sr": "40k", "f0": 1, "version": "v2"}: nothing there needs more than weights_only's safe unpickler. A file
that does (a full pickle of Python objects) is refused, not run.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ...errors import EngineError
from .model import SynthConfig, SynthesizerTrnMs768NSFsid

REEXPORT = ("re-export it from RVC as a small model (its 'ckpt' tab: 'extract small model', or the "
            "weights RVC writes under assets/weights), which is a plain dict of tensors")

_NORMED = {".weight_g": "g", ".weight_v": "v",  # torch.nn.utils.weight_norm, as RVC trains
           ".parametrizations.weight.original0": "g", ".parametrizations.weight.original1": "v"}


@dataclass(frozen=True)
class Voice:
    """A loaded voice: the synthesizer (eval mode, on its device) and what the pipeline needs of it."""

    model: SynthesizerTrnMs768NSFsid
    sample_rate: int
    speakers: int
    path: Path

    @property
    def hop(self) -> int:
        return self.model.config.hop


def read_voice(path: Path) -> dict[str, Any]:
    """The checkpoint's dict, read with weights_only=True; EngineError naming the file and the fix otherwise."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"voice model {path} does not exist. Fix: put the voice's .pth under the models "
                          "folder's voices/ (songforge models list shows what is there).")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise EngineError(f"voice model {path} was refused: it holds Python objects that loading would run, "
                          f"beyond tensors and plain values ({str(error).splitlines()[0][:200]}). "
                          f"Fix: {REEXPORT}.") from None
    except (RuntimeError, EOFError, OSError) as error:
        raise EngineError(f"voice model {path} cannot be read as a PyTorch file ({error}). Fix: {REEXPORT}.") from None
    return _checked(checkpoint, path)


def _checked(checkpoint: Any, path: Path) -> dict[str, Any]:
    """An RVC v2 voice with pitch guidance, or EngineError saying what it is instead."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("weight"), dict) \
            or "config" not in checkpoint:
        keys = ", ".join(map(str, list(checkpoint)[:5])) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise EngineError(f"voice model {path} is not an RVC voice (no 'weight' and 'config'; it holds {keys}). "
                          f"Fix: {REEXPORT}; a training checkpoint (G_*.pth) is not a voice.")
    version = checkpoint.get("version", "v1")
    if version != "v2":
        raise EngineError(f"voice model {path} is an RVC {version} voice; songforge runs v2 voices (768-dim "
                          "ContentVec features). Fix: retrain the voice as v2, or use a v2 voice.")
    if int(checkpoint.get("f0", 1)) != 1:
        raise EngineError(f"voice model {path} was trained without pitch guidance (f0: 0), which cannot follow a "
                          "sung melody. Fix: use a voice trained with pitch guidance (RVC's default).")
    return checkpoint


def fold_weight_norm(weights: dict[str, Tensor]) -> dict[str, Tensor]:
    """Checkpoint names -> model names: every weight-normed `X.weight_g` + `X.weight_v` (or torch's newer
    `X.parametrizations.weight.original0/1`) becomes `X.weight` = g * v / |v|, the norm over all but dim 0."""
    folded, pairs = {}, {}
    for name, tensor in weights.items():
        suffix = next((suffix for suffix in _NORMED if name.endswith(suffix)), None)
        if suffix is None:
            folded[name] = tensor
        else:
            pairs.setdefault(name.removesuffix(suffix), {})[_NORMED[suffix]] = tensor
    for stem, pair in pairs.items():
        if set(pair) != {"g", "v"}:
            raise EngineError(f"the voice's weight-normed layer {stem} lacks its {'v' if 'g' in pair else 'g'} part")
        g, v = pair["g"].float(), pair["v"].float()
        norm = v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (v.dim() - 1))  # an all-zero v stays 0
        folded[f"{stem}.weight"] = v * (g / norm)
    return folded


def load_voice(path: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Voice:
    """The voice at `path` built on `device` in `dtype`; EngineError naming any tensor that does not fit."""
    checkpoint = read_voice(path)
    weights = fold_weight_norm(checkpoint["weight"])
    config = SynthConfig.from_list(checkpoint["config"])
    speakers = weights.get("emb_g.weight", torch.empty(config.spk_embed_dim, 0)).shape[0]
    config = SynthConfig(**{**config.__dict__, "spk_embed_dim": speakers})  # the table's size is the truth (as RVC)
    with torch.device("meta"):
        model = SynthesizerTrnMs768NSFsid(config)
    state = {name: tensor.to(device=device, dtype=dtype) for name, tensor in weights.items() if "enc_q" not in name}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        why = " ".join(str(error).split())[:400]  # torch's report, on one line
        raise EngineError(f"voice model {path} does not fit RVC v2's synthesizer: {why}. "
                          f"Fix: {REEXPORT}.") from None
    return Voice(model.eval(), config.sample_rate, speakers, Path(path))
