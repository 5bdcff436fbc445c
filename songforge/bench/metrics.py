"""Which of the benchmark's metric steps can run here: those registered whose models are pulled.

Each metric is an opt-in step with settings (clap, aesthetics, mulan, songeval, intelligibility): the bench
switches on, with its default settings, every one whose models are on disk, and names each other one with the
reason and the command that fixes it, so a missing column says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..album_file import album_from_dict
from ..errors import SongforgeError
from ..registry import song_steps

# The benchmark's metric steps, in table order, and the data keys each one gives (the issue-13 contract).
METRIC_STEPS: dict[str, tuple[str, ...]] = {
    "aesthetics": ("audiobox_pq", "audiobox_pc", "audiobox_ce", "audiobox_cu"),
    "mulan": ("mulan",),
    "intelligibility": ("per", "wer"),
    "songeval": ("songeval_coherence", "songeval_memorability", "songeval_naturalness", "songeval_clarity",
                 "songeval_musicality"),
    "clap": ("clap_score",),
}
_PROBE_LYRICS = "[verse]\nA line to sing\n"


@dataclass(frozen=True)
class MetricChoice:
    """The metric steps to switch on (step name -> settings, as a song writes them), and each left off with why."""

    settings: dict[str, dict[str, Any]]
    not_measured: dict[str, str]  # step name -> "model X not pulled (songforge models pull X)", ...


def choose_metrics(engine: str, wanted: tuple[str, ...] = tuple(METRIC_STEPS)) -> MetricChoice:
    """Every wanted metric step that can run for songs of `engine`: registered, its default settings valid, its
    models on disk. Nothing is loaded: models are checked as the check before a run checks them."""
    registered = {step.name: step for step in song_steps()}
    settings, not_measured = {}, {}
    for name in wanted:
        step = registered.get(name)
        reason = (f"no '{name}' step in this songforge" if step is None or step.settings is None
                  else _unusable(step, engine))
        if reason is None:
            settings[name] = {}
        else:
            not_measured[name] = reason
    return MetricChoice(settings, not_measured)


def _unusable(step: Any, engine: str) -> str | None:
    """Why the step cannot run with default settings on a song of `engine` (None: it can)."""
    try:
        album = album_from_dict({"title": "probe", "songs": [{"title": "probe", "lyrics": _PROBE_LYRICS,
                                                             "engine": {"name": engine}, step.name: {}}]})
        params = step.params(album.songs[0], album)
        needs = step.models(params) if step.models and params is not None else []
    except SongforgeError as error:  # e.g. settings that need a value, or a model the params could not find
        return " ".join(str(error).split())
    missing = [need for need in needs if need.missing]
    if not missing:
        return None
    return "; ".join(f"model {need.name} not pulled" + (f" (songforge models pull {need.pull})" if need.pull else
                                                         f" ({need.folder} is missing)") for need in missing)


def metric_keys(step: str) -> tuple[str, ...]:
    return METRIC_STEPS.get(step, ())
