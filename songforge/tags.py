"""YuE's style-tag vocabulary (shipped as package data) and validation with suggestions."""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources

from .errors import ParamsError

# Our field -> the vocabulary groups its tags may come from.
FIELD_GROUPS = {
    "genre": ("genre",),
    "mood": ("mood",),
    "instrument": ("instrument",),
    "voice": ("gender", "timbre"),
}


@lru_cache(maxsize=None)
def vocabulary() -> dict[str, tuple[str, ...]]:
    """YuE's top-200 tags per group (genre, instrument, mood, gender, timbre)."""
    text = resources.files("songforge.data").joinpath("top_200_tags.json").read_text()
    return {group: tuple(tags) for group, tags in json.loads(text).items()}


def _known(field: str) -> dict[str, str]:
    """Lower-cased tag -> canonical spelling, for one of our fields."""
    vocab = vocabulary()
    known: dict[str, str] = {}
    for group in FIELD_GROUPS[field]:
        for tag in vocab[group]:
            known.setdefault(tag.lower(), tag)
    return known


def normalize_tags(field: str, tags: list[str]) -> list[str]:
    """Validate tags of one field (lower-cased, duplicates dropped), suggesting the nearest on error."""
    known = _known(field)
    normalized: list[str] = []
    for index, tag in enumerate(tags):
        key = tag.strip().lower()
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(repr(n) for n in near)}?" if near else "no close tag found"
            raise ParamsError(
                f"{field}[{index}]", f"'{tag}' is not in YuE's {field} vocabulary ({hint})",
                f"use a tag from songforge/data/top_200_tags.json ({'/'.join(FIELD_GROUPS[field])})"
                + (f", e.g. '{near[0]}'" if near else ""),
            )
        if key not in normalized:
            normalized.append(key)
    return normalized
