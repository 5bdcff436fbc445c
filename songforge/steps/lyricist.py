"""The lyricist step: a song's words drafted from its lyrics_brief by a server's model (songforge.lyricist.brief).

Its version holds the prompts' (PROMPT_VERSION): an edit of the prompts or the fit rules drafts again.
Run before the song is planned (every later step holds the words), never planned itself: params None. A model
in process is the lyricist_local step's, which holds a GPU slot.
"""

from __future__ import annotations

from ..lyricist.brief import BriefCall, draft_words
from ..lyricist.prompts import PROMPT_VERSION
from ..registry import register_step
from ..step import Step

STEP = register_step(Step(name="lyricist", version=f"2+{PROMPT_VERSION}", phase="words", run=draft_words,
                          params=lambda song, album: None, makes=("draft",), artifacts=("draft",)))


def step_for(call: BriefCall) -> Step:
    """The step drafting this call: lyricist (a server), or lyricist-local (in process, on a GPU slot)."""
    from . import lyricist_local

    return lyricist_local.STEP if call.lyricist.backend == "transformers" else STEP
