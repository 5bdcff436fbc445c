"""The repair loop: draft, check the fit rules, send the broken ones back, up to `max_rounds` drafts.

What still breaks a rule after the last round raises LyricsRejected listing each rule and where: a song is
never written as if it were fine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import SongforgeError
from ..paths import slugify
from .draft import SongDraft, check, draft_schema
from .endpoint import Reply
from .fit import Problem
from ..lyricist_params import LyricistParams
from .prompts import Message, opening, repair

log = logging.getLogger(__name__)


class Chat(Protocol):
    params: LyricistParams

    def __call__(self, messages: list[Message], schema: dict | None = None) -> Reply: ...

    def provenance(self) -> dict: ...


class LyricsRejected(SongforgeError):
    """Every draft broke a fit rule: the last draft's problems, one line each (rule and where)."""

    def __init__(self, brief: str, rounds: int, problems: list[Problem]):
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"the lyricist's drafts for '{brief[:80]}' still break {len(problems)} rule(s) after "
                         f"{rounds} round(s):\n{listed}\nFix: raise max_rounds, use a stronger model, or write the "
                         "lyrics yourself")


@dataclass(frozen=True)
class Drafted:
    """A draft that keeps every rule, the duration_s it fits, the rounds it took and who wrote it."""

    draft: SongDraft
    duration_s: float
    rounds: int
    provenance: dict[str, Any]


def make_chat(params: LyricistParams) -> Chat:
    """The chat of params.backend: an OpenAI-compatible endpoint, or a model in this process."""
    if params.backend == "transformers":
        from .local import LocalChat

        return LocalChat(params)
    from .endpoint import EndpointChat

    return EndpointChat(params)


def draft_song(chat: Chat, brief: str, language: str, max_rounds: int, bpm: float | None = None,
               duration_s: float | None = None, taken: tuple[str, ...] = (), words_only: bool = False) -> Drafted:
    """A song for `brief` in `language` that keeps every fit rule (at the song's own bpm and duration_s when
    given) and whose title is not one of `taken` (the album's other songs); LyricsRejected with the last draft's
    problems after `max_rounds` drafts. words_only: only the lyrics are the model's (see draft.check)."""
    fixed = "".join(f", {name} {value:g}" for name, value in (("bpm", bpm), ("duration_s", duration_s)) if value)
    messages, problems = opening(language, brief, f" ({fixed[2:]})" if fixed else ""), []
    for round_ in range(1, max_rounds + 1):
        reply = chat(messages, draft_schema())
        checked = check(reply.text, language, bpm, duration_s, words_only)
        if checked.draft is not None and slugify(checked.draft.title) in {slugify(title) for title in taken}:
            checked.problems.append(Problem("title", "title_unique", f"'{checked.draft.title}' is the title of "
                                            "another song of the album: give this song a title of its own"))
        if not checked.problems and checked.draft is not None:
            return Drafted(checked.draft, checked.duration_s, round_, {**chat.provenance(), "rounds": round_})
        problems = checked.problems
        log.info("draft %d of %d breaks %d rule(s): %s", round_, max_rounds, len(problems),
                 "; ".join(p.rule for p in problems))
        messages = messages + repair(language, reply.text, problems)
    raise LyricsRejected(brief, max_rounds, problems)
