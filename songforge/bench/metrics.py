"""Which of the benchmark's metric steps can run here: those registered whose models are pulled.

Each metric is an opt-in step with settings (clap, aesthetics, mulan, songeval, intelligibility): the bench
switches on, with the protocol's settings (four ASR passes), every one whose models are on disk, and names each
other one with the reason and the command that fixes it, so a missing column says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..album_file import album_from_dict
from ..errors import SongforgeError
from ..registry import song_steps

# The benchmark's metric steps, in table order (each step declares the metric names it gives: Step.metric_names),
# and the settings the benchmark's protocol gives them: each candidate's PER is the lowest of four ASR passes.
METRIC_STEPS = ("aesthetics", "mulan", "intelligibility", "songeval", "clap")
PROTOCOL: dict[str, dict[str, Any]] = {"intelligibility": {"passes": 4}}
_PROBE_LYRICS = "[verse]\nA line to sing\n"


@dataclass(frozen=True)
class MetricChoice:
    """The metric steps to switch on (step name -> settings, as a song writes them), and each left off with why."""

    settings: dict[str, dict[str, Any]]
    not_measured: dict[str, str]  # step name -> "model X not pulled (songforge models pull X)", ...


def choose_metrics(engine: str, wanted: tuple[str, ...] = METRIC_STEPS) -> MetricChoice:
    """Every wanted metric step that can run for songs of `engine`: registered, its default settings valid, its
    models on disk. Nothing is loaded: models are checked as the check before a run checks them."""
    registered = {step.name: step for step in song_steps()}
    settings, not_measured = {}, {}
    for name in wanted:
        step = registered.get(name)
        reason = (f"no '{name}' step in this songforge" if step is None or step.settings is None
                  else _unusable(step, engine))
        if reason is None:
            settings[name] = dict(PROTOCOL.get(name, {}))
        else:
            not_measured[name] = reason
    return MetricChoice(settings, not_measured)


def _unusable(step: Any, engine: str) -> str | None:
    """Why the step cannot run with the protocol's settings on a song of `engine` (None: it can)."""
    try:
        album = album_from_dict({"title": "probe", "songs": [{"title": "probe", "lyrics": _PROBE_LYRICS,
                                                             "engine": {"name": engine},
                                                             step.name: PROTOCOL.get(step.name, {})}]})
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
    """The metric names a registered step declares (none for a step this songforge lacks)."""
    found = {registered.name: registered.metric_names for registered in song_steps()}
    return tuple(found.get(step, ()))
