"""The lyricist step with the model in this process (transformers): the same run as the lyricist step's, holding
one of the host's GPU slots while it drafts."""

from __future__ import annotations

from ..lyricist.brief import draft_words
from ..registry import register_step
from ..step import Step

STEP = register_step(Step(name="lyricist-local", version="1", phase="words", run=draft_words,
                          params=lambda song, album: None, makes=("draft",), artifacts=("draft",), loads_models=True))
