"""Content features for RVC v2: ContentVec through transformers' HubertModel (no fairseq), the output of its last
(12th) transformer layer, 768 values per 20 ms; and the catalogue entry `songforge models pull contentvec` uses.

RVC's own `hubert_base.pt` is a fairseq pickle that weights_only cannot load; `lengyue233/content-vec-best` is
the same ContentVec checkpoint converted for transformers. RVC v2 reads layer 12 as it comes (no final
projection, that is v1's), from raw 16 kHz audio (no input normalisation), as this module does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...catalogue import HubModel, register_model
from ...errors import EngineError
from ...licences import MIT

FEATURE_DIM = 768
HUBERT_HOP = 320  # samples per feature frame at 16 kHz (20 ms)
# Commit read from pinned download URLs of two independent projects (huggingface.co/lengyue233/content-vec-best/
# resolve/<sha>/pytorch_model.bin); the weights are ContentVec's (MIT, auspicious3000), converted by lengyue233.
NAME = "contentvec"  # `songforge models pull contentvec`, and its folder in the models folder
ENTRY = register_model(NAME, HubModel("lengyue233/content-vec-best", "ab04aa7067b99ee05cc82499bc64916b980a1967",
                                              MIT, ("config.json", "pytorch_model.bin", "*.safetensors"),
                                              "ContentVec content features for voice refinement (RVC v2)"))


def load_contentvec(folder: Path, device: str | torch.device = "cpu"):
    """The HubertModel in `folder` (config.json + weights, loaded offline); EngineError with the fix otherwise."""
    from transformers import HubertModel

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise EngineError(f"ContentVec is not in {folder} (no config.json). Fix: run `songforge models pull "
                          "contentvec`.")
    try:
        model = HubertModel.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as error:
        raise EngineError(f"ContentVec in {folder} cannot be loaded ({str(error)[:300]}). Fix: run `songforge "
                          "models pull contentvec` again.") from None
    if model.config.hidden_size != FEATURE_DIM:
        raise EngineError(f"the model in {folder} gives {model.config.hidden_size}-dim features; RVC v2 voices read "
                          f"{FEATURE_DIM}. Fix: run `songforge models pull contentvec`.")
    return model.to(device).eval()


@torch.inference_mode()
def content_features(model, audio: np.ndarray) -> np.ndarray:
    """16 kHz mono (samples,) -> [frames, 768] float32, frame i read from samples [320 i, 320 i + 400)."""
    device = next(model.parameters()).device
    values = torch.as_tensor(audio, dtype=torch.float32, device=device)[None]
    return model(input_values=values).last_hidden_state[0].float().cpu().numpy()
