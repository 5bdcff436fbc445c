"""The lyricist step with the model in this process (transformers): the same run as the lyricist step's, holding
one of the host's GPU slots while it drafts; the model `songforge models pull` fetches for it; and what preflight
checks of a briefed song's in-process lyricist before any work (its licence, its model on disk), never planned
itself (the words come before the plan)."""

from __future__ import annotations

from typing import Any

from ..catalogue import CATALOGUE, HubModel, model_folder, register_model
from ..licences import LLAMA_3, Licence, unknown
from ..lyricist.brief import BriefCall, draft_words
from ..lyricist.prompts import PROMPT_VERSION
from ..lyricist_params import LyricistParams
from ..models import ModelNeed, missing_files
from ..registry import register_step
from ..step import Step

NEEDED = (("config.json",), ("tokenizer_config.json",), ("*.safetensors", "*.bin"))  # a loadable chat model

# No commit of this repo could be checked from this (offline) machine: a pull asks the hub which commit "main" is,
# downloads exactly that one and records it in the folder's manifest (songforge.catalogue._resolve).
LLAMA = register_model("llama-3-8b-instruct", HubModel(
    "meta-llama/Meta-Llama-3-8B-Instruct", "main", LLAMA_3, ("*.json", "*.safetensors"),
    "Meta Llama 3 8B Instruct: the in-process lyricist (gated: accept its licence on the hub, then HF_TOKEN)",
    gated=True))


def licence(call: BriefCall | Any) -> Licence | None:
    """The catalogue model's licence; a folder of the user's own: not checked. Of a call (the step's run), or of a
    song (its plan, which holds the licences of the words steps run before it): None for a song whose words are
    not drafted in process from a brief."""
    lyricist = call.lyricist if isinstance(call, BriefCall) else _in_process(call)
    return _licence(lyricist) if lyricist is not None else None


def _licence(lyricist: LyricistParams) -> Licence:
    entry = CATALOGUE.get(lyricist.model)
    return entry.licence if entry else unknown(lyricist.model)


def _in_process(song: Any) -> LyricistParams | None:
    """The in-process lyricist of a song whose words come from its brief, drafted or not (None otherwise)."""
    lyricist = getattr(song, "lyricist", None)
    briefed = bool(getattr(song, "lyrics_brief", None))
    return lyricist if briefed and lyricist is not None and lyricist.backend == "transformers" else None


def preflight_models(song: Any) -> list[ModelNeed]:
    """The model a briefed song's in-process lyricist loads, checked on disk (stat only; a hub id already in the
    Hugging Face cache is there)."""
    lyricist = _in_process(song)
    if lyricist is None:
        return []
    from ..lyricist.local import LocalChat

    folder = model_folder(lyricist.model)
    missing = () if LocalChat(lyricist)._cached_config() else tuple(missing_files(folder, NEEDED))
    return [ModelNeed("lyricist (in process)", lyricist.model, folder, missing,
                      pull=lyricist.model if lyricist.model in CATALOGUE else None)]


STEP = register_step(Step(name="lyricist-local", version=f"2+{PROMPT_VERSION}", phase="words", run=draft_words,
                          params=lambda song, album: None, makes=("draft",), artifacts=("draft",), loads_models=True,
                          licence=licence))
