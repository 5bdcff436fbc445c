"""A song's `lyrics_brief` drafted into its lyrics: the call that defines the draft, its step's run, and the song
with its words.

Every later step of a song holds its lyrics in its params (the engine's take, flags, intelligibility, the
report), so the words are drafted before the song is planned: the album flow runs the `lyricist` step (cached
on this call: the brief, the song's language, bpm and length, the lyricist's settings and seed, and the model
and revision the backend reports), then plans the song with the drafted lyrics, and its `lyrics` step writes
lyrics.txt as for any song. Preflight plans a song before its draft, with its brief as stand-in words: the
licences and models it checks do not depend on the words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..artifacts import StageOutput, output
from ..paths import write_json
from ..step import Inputs, Progress
from ..lyricist_params import LyricistParams
from .repair import draft_song, make_chat

DRAFT_FILE = "lyrics_draft.json"


class BriefCall(BaseModel):
    """What a drafted song's words depend on (the lyricist step's params, and so its cache key: the lyricist's
    identity, not its timeouts, retries, streaming or key variable, which ride along excluded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    brief: str
    language: str
    bpm: float
    duration_s: float
    drafter: dict[str, Any]  # LyricistParams.identity(): backend, public URL, model, revision, settings, seed
    served: dict[str, Any]  # the backend's model and revision, as it reports them before the draft
    lyricist: LyricistParams = Field(exclude=True)  # the whole params, for the run (not in the key)


def brief_call(song: Any) -> BriefCall:
    """The call for a song with a lyrics_brief; asks the backend which model and revision it serves."""
    lyricist = song.lyricist or LyricistParams()
    served = make_chat(lyricist).provenance()
    return BriefCall(brief=song.lyrics_brief, language=song.language, bpm=song.bpm, duration_s=song.duration_s,
                     drafter=lyricist.identity(), served=served, lyricist=lyricist)


def draft_words(call: BriefCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """The lyricist step: a draft that keeps every fit rule at the song's bpm and length (LyricsRejected naming
    what still breaks), written with who drafted it to lyrics_draft.json."""
    if progress:
        progress(0.0, "drafting the lyrics")
    chat = make_chat(call.lyricist)
    try:
        drafted = draft_song(chat, call.brief, call.language, call.lyricist.max_rounds, bpm=call.bpm,
                             duration_s=call.duration_s, words_only=True)
    finally:
        if call.lyricist.backend == "transformers":  # as every model step ends: the memory back for the next
            from ..device_memory import free_memory

            del chat
            free_memory()
    data = {"lyrics": drafted.draft.lyrics.strip() + "\n", "provenance": drafted.provenance,
            "settings": call.lyricist.settings(), "call": _asked(call)}
    return output("lyricist", data, draft=write_json(folder / DRAFT_FILE, data))


def _asked(call: Any) -> dict[str, Any]:
    """What a song asked of the lyricist, known without asking the server (what a draft is reused on)."""
    return {"brief": call.brief, "language": call.language, "bpm": call.bpm, "duration_s": call.duration_s,
            "drafter": call.drafter if isinstance(call, BriefCall) else call.lyricist.identity()}


def offline_draft(song: Any, folder: Path) -> StageOutput | None:
    """The song's earlier draft in `folder`, where it was asked exactly as now (brief, language, bpm, length,
    the lyricist's identity): for a rerun whose server is down. None where there is none, or it differs."""
    path = folder / DRAFT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    lyricist = song.lyricist or LyricistParams()
    asked = {"brief": song.lyrics_brief, "language": song.language, "bpm": song.bpm, "duration_s": song.duration_s,
             "drafter": lyricist.identity()}
    if not isinstance(data, dict) or data.get("call") != json.loads(json.dumps(asked)) or not data.get("lyrics"):
        return None
    return output("lyricist", data, draft=path)


def with_words(song: Any, drafted: StageOutput) -> Any:
    """The song with its drafted lyrics, and who drafted them (lyrics_by: provenance and settings, no key)."""
    by = {**drafted.data["provenance"], "settings": drafted.data["settings"]}
    return song.model_copy(update={"lyrics": drafted.data["lyrics"], "lyrics_by": by})


def stand_in(song: Any) -> Any:
    """A song not drafted yet, with its brief as words: for checks that do not depend on the words."""
    if song.lyrics or not song.lyrics_brief:
        return song
    return song.model_copy(update={"lyrics": "[verse]\n" + " ".join(song.lyrics_brief.split()) + "\n",
                                   "lyrics_by": {"stand_in": "the brief, until the lyricist drafts the words"}})
