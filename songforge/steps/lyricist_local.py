"""The lyricist step with the model in this process (transformers): the same run as the lyricist step's, holding
one of the host's GPU slots while it drafts; and the model `songforge models pull` fetches for it."""

from __future__ import annotations

from ..catalogue import CATALOGUE, HubModel, register_model
from ..licences import LLAMA_3, Licence, unknown
from ..lyricist.brief import BriefCall, draft_words
from ..lyricist.prompts import PROMPT_VERSION
from ..registry import register_step
from ..step import Step

# No commit of this repo could be checked from this (offline) machine: a pull asks the hub which commit "main" is,
# downloads exactly that one and records it in the folder's manifest (songforge.catalogue._resolve).
LLAMA = register_model("llama-3-8b-instruct", HubModel(
    "meta-llama/Meta-Llama-3-8B-Instruct", "main", LLAMA_3, ("*.json", "*.safetensors"),
    "Meta Llama 3 8B Instruct: the in-process lyricist (gated: accept its licence on the hub, then HF_TOKEN)",
    gated=True))


def licence(call: BriefCall) -> Licence:
    """The catalogue model's licence; a folder of the user's own: not checked."""
    entry = CATALOGUE.get(call.lyricist.model)
    return entry.licence if entry else unknown(call.lyricist.model)


STEP = register_step(Step(name="lyricist-local", version=f"2+{PROMPT_VERSION}", phase="words", run=draft_words,
                          params=lambda song, album: None, makes=("draft",), artifacts=("draft",), loads_models=True,
                          licence=licence))
