"""Every model a refinement needs, loaded onto the device for the length of a `with` block and released after."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from ...device_memory import default_device, free_memory
from .f0 import Tracker, crepe_tracker, rmvpe_tracker
from .features import load_contentvec
from .files import contentvec_folder, rmvpe_file
from .index import load_index
from .pipeline import Models
from .rmvpe import load_rmvpe
from .voice import load_voice


def tracker(f0: str, device: torch.device) -> Tracker:
    """'rmvpe' (the pulled network), 'crepe' (torchcrepe full, as RVC) or 'crepe-tiny'."""
    if f0 == "rmvpe":
        return rmvpe_tracker(load_rmvpe(rmvpe_file(), device))
    return crepe_tracker("tiny" if f0 == "crepe-tiny" else "full", device)


@contextmanager
def loaded_models(voice: Path, index: Path | None, f0: str, device: torch.device | None = None) -> Iterator[Models]:
    """ContentVec, the F0 tracker, the voice and its index (if any) on `device` (CUDA when there is one)."""
    device = device or torch.device(default_device())
    models = Models(load_contentvec(contentvec_folder(), device), tracker(f0, device), load_voice(voice, device),
                    load_index(index) if index is not None else None)
    try:
        yield models
    finally:
        del models
        free_memory()
