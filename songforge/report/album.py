"""The album's report: metrics.csv and metrics.json (for DVC), and report.html, the review page.

What each song shows comes from its plan's view (songforge.plan.PlanView): the players, pictures,
metrics and take its steps declare, so a step added to the plan shows here with no edit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from ..artifacts import StageOutput, output
from ..paths import slugify, write_json, write_text
from .album_metrics import album_metrics, song_numbers, tempo_error_pct
from .html import SongReport, album_report_html
from .safe_text import csv_text
from .takes import TakesReport, takes_report


def song_metrics(results: dict, view: Any) -> dict[str, Any] | None:
    """The song's metrics: the data of the steps its plan marks as metrics; None if none of them finished."""
    found = [results[name].data for name in view.metrics if isinstance(results.get(name), StageOutput)]
    return {key: value for data in found for key, value in data.items()} if found else None


def album_report(album, songs: list[dict], album_dir: Path, views: Sequence[Any]) -> StageOutput:
    """metrics.csv (a row per song), metrics.json (for DVC) and report.html (players, pictures, metrics vs targets).

    songs: each song's results (step name -> StageOutput, "error" if it failed); views: each song's PlanView.
    """
    targets = {"lufs": ("≈±0.5", album.master.target_lufs), "true_peak_dbtp": ("≤", album.master.true_peak_dbtp),
               "tempo_acc1": ("=", 1), "key_score": ("≥", 0.5)}
    if album.master.reference is not None:
        del targets["lufs"]
    csv, metrics = _write_metrics(album, songs, album_dir, targets, views)
    reports = [_song_report(spec, results, album_dir, targets, view)
               for spec, results, view in zip(album.songs, songs, views)]
    for rejected in album.rejected:  # songs whose lyrics did not load: failed, in their place in the album
        reports.insert(rejected.index, _rejected_report(rejected))
    html = album_report_html(album.title, reports, album_dir / "report.html")
    return output("album-report", html=html, csv=csv, metrics=metrics)


def _write_metrics(album, songs: list[dict], album_dir: Path, targets: dict,
                   views: Sequence[Any]) -> tuple[Path, Path]:
    """metrics.csv (a row per song, plus tempo_error_pct) and metrics.json (album means, per-song numbers)."""
    rows, numbers = [], {}
    for spec, results, view in zip(album.songs, songs, views):
        data = song_metrics(results, view)
        if data is None:  # a failed song: its reason in the table, no numbers
            rows.append({"song": spec.title, "error": results.get("error")})
            continue
        row = {**data, "tempo_error_pct": tempo_error_pct(data.get("tempo_bpm"), spec.bpm)}
        rows.append({"song": spec.title, **row})
        numbers[_folder(spec, results, album_dir)] = song_numbers(row)
    rows += [{"song": rejected.title, "error": rejected.reason} for rejected in album.rejected]
    csv = write_text(album_dir / "metrics.csv", csv_text(rows))
    return csv, write_json(album_dir / "metrics.json", album_metrics(numbers, targets))


def _folder(song, results: dict, album_dir: Path) -> str:
    """The song's folder, relative to the album's: where its steps wrote (a song made elsewhere names it), or
    its slug if it failed before writing anything."""
    written = next((out for out in results.values() if isinstance(out, StageOutput) and out.files), None)
    if written is not None:
        return Path(os.path.relpath(next(iter(written.files.values())).path, album_dir)).parts[0]
    return Path(os.path.relpath(results["folder"], album_dir)).as_posix() if results.get("folder") else song.slug


def _rejected_report(rejected) -> SongReport:
    """A song rejected for its lyrics: a failed card with the reason, nothing to play."""
    return SongReport(title=rejected.title, folder=slugify(rejected.title), error=rejected.reason)


def _song_report(song, results: dict, album_dir: Path, targets: dict, view: Any) -> SongReport:
    """What the review page shows of one song: whatever steps it finished, and its `error` if it failed."""
    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, album_dir)).as_posix()

    def file(step: str, role: str) -> str | None:
        out = results.get(step)
        return rel(out.path(role)) if isinstance(out, StageOutput) and role in out.files else None

    audio = {label: path for label, step, role in view.players if (path := file(step, role))}
    images = [path for step, role in view.pictures if (path := file(step, role))]
    take_file = next((path for step, role in view.take_files if (path := file(step, role))), None)  # the kept's
    take = json.loads((album_dir / take_file).read_text()) if take_file else {}
    error = results.get("error")
    takes = takes_report(results, view, album_dir)
    return SongReport(
        title=song.title, folder=_folder(song, results, album_dir), audio=audio, lyrics=song.sections.text,
        images=images, metrics=song_metrics(results, view) or {}, targets=targets,
        sections=_take_sections(take), error=None if error is None else str(error),
        subtitle=" · ".join(part for part in (f"{song.musical_key.name}", f"{song.bpm:g} BPM", song.style,
                                              f"seed {_seed(song, takes)}", _engines(song), _singer(take)) if part),
        takes=takes, licences=_licences(song, results, view, takes))


def _engines(song) -> str:
    """'yue engine', or for takes by several engines 'yue + ace-step engines'."""
    names = list(dict.fromkeys(spec.name for spec in song.take_engines)) or [song.engine.name]
    return f"{' + '.join(names)} engine{'s' if len(names) > 1 else ''}"


def _licences(song, results: dict, view: Any, takes: TakesReport | None) -> dict[str, str]:
    """Each step's licence; for takes by several engines, once one is kept: the steps the kept take ran (its
    engine's) first, then those of the other engines' takes, named as competitors (their licences bound the takes
    made, not the song kept)."""
    every = dict(view.licences)
    if not song.take_engines or takes is None or not any(take.kept for take in takes.takes):
        return every
    kept = {step: licence for step, licence in every.items() if step in results}
    return kept | {f"{step} (a competing take's engine, not kept)": licence for step, licence in every.items()
                   if step not in kept}


def _seed(song, takes: TakesReport | None) -> str:
    """The song's seed; the kept take's, for a song made as takes."""
    kept = [take.seed for take in takes.takes if take.kept] if takes else []
    return f"{kept[0]} (take of {song.seed})" if kept else str(song.seed)


def _take_sections(take: dict) -> list[tuple[float, str]]:
    """[(start_s, tag), ...] of the sections an engine recorded in take.json (none if it recorded none)."""
    sections = take.get("sections", [])
    return [(float(s["start_s"]), str(s["tag"])) for s in sections if isinstance(s, dict) and {"start_s", "tag"} <= s.keys()]


def _singer(take: dict) -> str:
    """Who sang the guide vocal (take.json's `singer`, the sketch engine's): 'guide vocal: festival 2.5.0
    (kal_diphone)', or 'guide vocal: GM synth voice, no words (<why>)'; '' where the take names no singer."""
    singer = take.get("singer")
    if not isinstance(singer, dict):
        return ""
    if singer.get("kind") == "festival":
        return f"guide vocal: festival {singer.get('version')} ({singer.get('voice')})"
    why = str(singer.get("note") or "").split(":")[0]  # the note's reason, before what the synth voice then does
    return "guide vocal: GM synth voice, no words" + (f" ({why})" if why else "")
