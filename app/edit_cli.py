"""`songforge edit SONG_FOLDER`: repaint a time range of a finished song (--from/--to, new --lyrics optional) or
extend it (--extend), as a new version in SONG/edits/NN-<range>/ beside the untouched original.

Every check runs before any work (a folder that is no song's, an engine that cannot edit, a range the take lacks,
a model not pulled, the song's MLflow run not in the store); the work is the edit flow (flows/edit.py): cached
steps, so the same edit again is taken from the cache, a progress bar of its steps, and the original's and the
edit's numbers side by side at the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from songforge.errors import SongforgeError

from .album_run import SUMMARY_COLUMNS, fmt, prefect_api, run_with_bar
from .console import fail


def edit_command(
    song_folder: Path = typer.Argument(..., help="the song's folder, e.g. out/<album>/01-<song>/"),
    start: Optional[float] = typer.Option(None, "--from", help="start of the range to repaint, in seconds"),
    end: Optional[float] = typer.Option(None, "--to", help="end of the range to repaint, in seconds"),
    extend: Optional[float] = typer.Option(None, "--extend", help="continue the song by this many seconds"),
    lyrics: Optional[str] = typer.Option(None, help="lyrics for the repaint, a file or the text: the song's lyrics "
                                         "with the range's lines rewritten (ACE-Step reads them for the whole take)"),
    seed: Optional[int] = typer.Option(None, help="seed of the new audio (default: the song's seed + 1)"),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="the MLflow store the song "
                                               "was tracked in; the edit's run is its child (default: ./mlflow.db)"),
) -> None:
    """Repaint a range of an ACE-Step song, or extend it: a new version in SONG/edits/, the original untouched."""
    from songforge.preflight import check_models
    from songforge.song_edit import plan_edit, request_for
    from songforge.song_folder import read_song_folder

    try:
        original = read_song_folder(song_folder)
        request = request_for(original, start, end, extend, lyrics, seed)
        job = plan_edit(song_folder, request, original)
        check_models([job.song], str(song_folder), [job.plan])
        uri = _song_run_store(original, tracking_uri)
    except SongforgeError as error:
        fail(error)
    with prefect_api() as api_ready:
        result = _run(job, uri, api_ready)
    if result.get("failed"):  # a step failed (not the input): exit 1, as a failed song of an album does
        typer.secho(f"error: the edit failed: {result['failed']}\nedit: {result['folder']}\nMLflow: "
                    f"{result['mlflow_page']}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    _print_comparison(original.folder, result)


def _song_run_store(original, tracking_uri: str | None) -> str:
    """The store holding the song's MLflow run (the edit's run is its child); SongforgeError if it does not."""
    from tasks.track import TrackedRun, default_tracking_uri

    uri = tracking_uri or default_tracking_uri()
    if original.run_id is None or not TrackedRun(uri, original.run_id).is_intact():
        raise SongforgeError(f"{original.folder}/manifest.json names MLflow run {original.run_id}, which {uri} does "
                             "not hold: an edit is tracked as a child of its song's run. Fix: pass --tracking-uri "
                             "(or set MLFLOW_TRACKING_URI) to the store the song was made with.")
    return uri


def _run(job, uri: str, api_ready) -> dict:
    """The edit flow with a bar of its steps (and the tracking); its result."""
    from flows.edit import edit_flow

    return run_with_bar(edit_flow, (str(job.original.folder), job.request, uri), {}, job.album, None, api_ready,
                        total=len(job.plan.names) + 1)


def _print_comparison(folder: Path, result: dict) -> None:
    """The original's numbers (its measure step's metrics.json) beside the edit's, then where the edit is."""
    path = folder / "metrics.json"
    before = json.loads(path.read_text()) if path.is_file() else {}
    rows = [(label, fmt(before.get(key), pattern), fmt(result["metrics"].get(key), pattern))
            for key, label, pattern in SUMMARY_COLUMNS]
    width = max(len(label) for label, _, _ in rows)
    typer.echo(f"{'':<{width}}  {'original':>10}  {'edit':>10}")
    for label, old, new in rows:
        typer.echo(f"{label:<{width}}  {old:>10}  {new:>10}")
    typer.echo(f"\nedit: {result['folder']}\nfrom the cache: {', '.join(result['cached']) or 'none'}"
               f"\nreport: {result['report']}\nMLflow: {result['mlflow_page']}")
