"""The takes of a song on the review page: a player per take side by side, the rule's metrics of each, its flags,
and the reason the kept one was chosen (from takes.json, songforge.takes)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..artifacts import StageOutput
from ..takes import take_title
from .cards import href
from .values import format_metric


@dataclass(frozen=True)
class TakeReport:
    """One take: its label, seed, main player (relative to the report's folder), rule metrics, flags; kept or not."""

    label: str
    seed: int
    audio: str | None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    flags: Sequence[str] = ()
    kept: bool = False


@dataclass(frozen=True)
class TakesReport:
    rule: str
    reason: str
    takes: Sequence[TakeReport]


def takes_report(results: dict, view: Any, album_dir: Path) -> TakesReport | None:
    """The song's takes, if it was made as takes (its results hold takes.json's output), else None."""
    choice = results.get("takes")
    if not isinstance(choice, StageOutput) or choice.stage != "takes":
        return None
    record, song_folder = choice.data, choice.path("takes").parent
    main = _main_file(results, view, song_folder)
    differ = len({take.get("engine") for take in record["takes"]}) > 1  # takes by several engines: named
    takes = [TakeReport(label=take_title(take["index"], take.get("engine"), differ), seed=int(take["seed"]), metrics=take["metrics"],
                        audio=_audio(song_folder / take["folder"], main, album_dir), flags=tuple(take["flags"]),
                        kept=take["index"] == record["kept"]) for take in record["takes"]]
    return TakesReport(rule=record["rule"], reason=record["reason"], takes=takes)


def _main_file(results: dict, view: Any, song_folder: Path) -> Path | None:
    """The song's main player, relative to the song's folder (each take has it at the same place in its own)."""
    for _, step, role in view.players:
        out = results.get(step)
        if isinstance(out, StageOutput) and role in out.files and song_folder in out.path(role).parents:
            return out.path(role).relative_to(song_folder)
    return None


def _audio(take_folder: Path, main: Path | None, album_dir: Path) -> str | None:
    if main is None or not (take_folder / main).is_file():
        return None
    return Path(os.path.relpath(take_folder / main, album_dir)).as_posix()


def takes_html(index: int, takes: TakesReport) -> str:
    """A section after the song's card: the reason, then a card per take (player, rule metrics, flags)."""
    cards = "".join(_take_card(take) for take in takes.takes)
    return (f"<section class=\"song takes\" id=\"song-{index:02d}-takes\"><h3>takes, chosen by "
            f"{escape(takes.rule)}</h3><p class=\"reason\">{escape(takes.reason)}</p>"
            f"<div class=\"take-cards\">{cards}</div></section>")


def _take_card(take: TakeReport) -> str:
    kept = "<span class=\"chip ok\">kept</span>" if take.kept else ""
    flags = "".join(f"<span class=\"chip failed\">flag: {escape(flag)}</span>" for flag in take.flags)
    player = (f"<audio controls preload=\"none\" src=\"{href(take.audio)}\"></audio>" if take.audio
              else "<p class=\"empty\">no audio</p>")
    numbers = "".join(f"<li>{escape(name)}: {escape(format_metric(name, value))}</li>"
                      for name, value in take.metrics.items())
    return (f"<article class=\"take{' kept' if take.kept else ''}\"><header><strong>{escape(take.label)}</strong> "
            f"<span class=\"seed\">seed {take.seed}</span>{kept}{flags}</header>{player}<ul>{numbers}</ul></article>")
