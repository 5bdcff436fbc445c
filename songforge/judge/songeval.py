"""SongEval: five aesthetic scores of a whole song (coherence, memorability, naturalness of vocal breathing and
phrasing, clarity of structure, musicality; each 1..5), as ASLP-lab's toolkit computes them.

The toolkit (github.com/ASLP-lab/SongEval, CC BY-NC-SA 4.0 by its README: no commercial use) reads MuQ
features of the whole song (MuQ-large-msd-iter, CC BY-NC 4.0; 24 kHz mono, one pass, no clips) at hidden state
6 (songforge/judge/muq.py) and scores them with a small head (`Generator` in its model.py): a feed-forward
(1024 -> 4096 -> 1024), four self-attention layers (8 heads) over it, the time-mean of the attended features
beside the time-max of the feed-forward's, a Linear to 5 and 3 + 2·tanh. Its head is rebuilt here from its
config.yaml and loaded from its ckpt/model.safetensors; its output order is the toolkit's eval.py
(coherence, musicality, memorability, clarity, naturalness).

The head's weights are in the GitHub repository (git LFS), not on the hub: `songforge models pull songeval`
fetches them at a pinned commit. MuQ's are `songforge models pull muq-large`.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from ..audio.io import resample, to_mono
from ..catalogue import HubModel, register_model
from ..errors import EngineError
from ..licences import CC_BY_NC_4, CC_BY_NC_SA_4
from ..paths import atomic_path
from .folders import require
from .muq import SAMPLE_RATE, MuQ, hidden_states, load_muq, load_weights, read_state

NAME, MUQ_NAME = "songeval", "muq-large"  # `songforge models pull songeval muq-large`
REPO = "https://github.com/ASLP-lab/SongEval"
COMMIT = "f8113118221285eabcbc2882093b0956b9661446"  # the repository's head ("add logo", 2025-05-17)
FILES = ("config.yaml", "ckpt/model.safetensors")
MUQ_NEEDED = ("config.json",)
LAYER = 6  # eval.py: output["hidden_states"][6]
SCORES = ("songeval_coherence", "songeval_musicality", "songeval_memorability", "songeval_clarity",
          "songeval_naturalness")  # the head's output order (eval.py)


def _download(dest: Path) -> str:
    """The head's config and weights at COMMIT from GitHub (LFS served through its raw URLs); returns COMMIT."""
    for file in FILES:
        with urllib.request.urlopen(f"{REPO}/raw/{COMMIT}/{file}", timeout=60) as response, \
                atomic_path(dest / file) as tmp, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    return COMMIT


ENTRY = register_model(NAME, HubModel(
    "ASLP-lab/SongEval (GitHub)", COMMIT, CC_BY_NC_SA_4, FILES,
    "SongEval's aesthetic head (coherence, memorability, naturalness, clarity, musicality); reads MuQ features",
    download=_download))
# No commit of OpenMuQ's repos could be read here: "main" is resolved at each pull (logged) and recorded.
MUQ_ENTRY = register_model(MUQ_NAME, HubModel(
    "OpenMuQ/MuQ-large-msd-iter", "main", CC_BY_NC_4, ("config.json", "model.safetensors"),
    "MuQ large (music representation, MSD): SongEval's features"))


class Generator(nn.Module):
    """SongEval's head: [B, T, in_features] MuQ features -> [B, num_classes] scores in 1..5."""

    def __init__(self, in_features: int, ffd_hidden_size: int, num_classes: int, attn_layer_num: int) -> None:
        super().__init__()
        self.attn = nn.ModuleList(nn.MultiheadAttention(embed_dim=in_features, num_heads=8, dropout=0.2,
                                                        batch_first=True) for _ in range(attn_layer_num))
        self.ffd = nn.Sequential(nn.Linear(in_features, ffd_hidden_size), nn.ReLU(),
                                 nn.Linear(ffd_hidden_size, in_features))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(in_features * 2, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        fed = self.ffd(features)
        attended = fed
        for attention in self.attn:
            attended, _ = attention(attended, attended, attended)
        pooled = torch.cat([attended.mean(dim=1), fed.max(dim=1).values], dim=1)
        return torch.tanh(self.fc(self.dropout(pooled))) * 2.0 + 3


@dataclass(frozen=True)
class SongEval:
    """The head and the MuQ it reads, both in eval mode on one device."""

    head: Generator
    muq: MuQ

    @property
    def device(self) -> torch.device:
        return next(self.head.parameters()).device


def load_head(folder: Path, what: str) -> Generator:
    """The head in `folder` (config.yaml's `generator` + ckpt/model.safetensors)."""
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))["generator"]
        head = Generator(**{key: value for key, value in config.items() if key != "_target_"})
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        raise EngineError(f"{what}: {folder / 'config.yaml'} is not SongEval's ({error}). Fix: pull it again.") from None
    load_weights(head, read_state(folder / "ckpt", what), "", what)
    return head


def load_songeval(name: str = NAME, muq: str = MUQ_NAME, device: str | torch.device = "cpu") -> SongEval:
    """SongEval's head and its MuQ, named (catalogue names or folders), offline; EngineError with the fix otherwise."""
    head = load_head(require(name, FILES, "SongEval"), f"SongEval model '{name}'")
    encoder = load_muq(require(muq, MUQ_NEEDED, "MuQ"), device, f"MuQ model '{muq}'")
    return SongEval(head.to(device).eval(), encoder)


@torch.inference_mode()
def songeval_scores(model: SongEval, audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """(samples,) or (samples, channels) audio -> the five scores (1..5) by metric name."""
    mono = resample(to_mono(audio)[:, None], sample_rate, SAMPLE_RATE)[:, 0]
    wav = torch.from_numpy(np.ascontiguousarray(mono)).to(model.device)[None]
    scores = model.head(hidden_states(model.muq, wav)[LAYER])[0]
    return {name: float(value) for name, value in zip(SCORES, scores)}
