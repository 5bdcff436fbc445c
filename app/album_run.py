"""How `songforge album` runs an album-shaped flow, shared by the commands that make albums (album, song, bench).

The checks before any run, the Prefect API (the user's, or a local one booting while this process imports), the
progress bar of every song's stages, and the summary printed after.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import typer

from songforge.errors import SongforgeError

from .console import fail, warnings_echoed

SUMMARY_COLUMNS = [("duration_s", "len s", "{:.0f}"), ("lufs", "LUFS", "{:.1f}"), ("true_peak_dbtp", "dBTP", "{:.1f}"),
                   ("tempo_bpm", "bpm", "{:.0f}"), ("tempo_acc1", "acc1", "{:.0f}"), ("key", "key", "{}"),
                   ("key_score", "key ok", "{:.1f}"), ("vocal_range_semitones", "range st", "{:.0f}")]


def input_warnings():
    """Print the warnings the params' input files give (e.g. a mono reference) as 'warning: ...' lines."""
    from songforge.inputs import InputWarning

    return warnings_echoed(InputWarning)


def check_before_run(spec, source: str, deployment: str | None) -> None:
    """SongforgeError, before any run exists, for a deployment without a server, a licence the album may not use,
    or (when the songs run here) a model not pulled."""
    from songforge.preflight import check_album

    if deployment and not os.environ.get("PREFECT_API_URL"):
        raise SongforgeError(f"--deployment {deployment} needs a Prefect server the workers also use. Fix: set "
                             "PREFECT_API_URL (songforge serve prints it), or leave --deployment out.")
    from songforge.licences import LicenceTerms

    # licences always (the terms of those allowed on conditions printed); models only when the songs run here
    with warnings_echoed(LicenceTerms):
        check_album(spec, source=source, models=deployment is None)


@contextmanager
def prefect_api():
    """PREFECT_API_URL if set; else a local API booting in a subprocess while this process imports."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if os.environ.get("PREFECT_API_URL"):
        yield lambda: None
        return
    from .local_api import LocalApi

    with LocalApi() as api:
        os.environ["PREFECT_API_URL"] = api.start()
        try:
            yield api.wait
        finally:
            _send_pending_logs()  # while the API still answers: it may stop with this command
            del os.environ["PREFECT_API_URL"]


def _send_pending_logs() -> None:
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)


def run_flow(spec, out: Path, tracking_uri: str | None, concurrency: int | None, flow_name: str,
             api_ready, deployment: str | None = None) -> None:
    """The album (or song) flow over `spec`, its summary printed; exit 1 when a song failed."""
    from flows.album import album_flow, song_flow

    args = (spec, str(out), tracking_uri) + ((deployment,) if flow_name == "album" else ())
    result = run_with_bar(song_flow if flow_name == "song" else album_flow, args, {}, spec, concurrency, api_ready)
    print_summary(result)
    if result.get("failed"):
        raise typer.Exit(1)


def run_with_bar(flow, args: tuple, kwargs: dict, spec, concurrency: int | None, api_ready,
                 total: int | None = None) -> dict:
    """Run an album-shaped flow (`spec`'s songs) with a bar of its songs' stages (or of `total` steps); a failed
    song is a line above it."""
    from prefect.task_runners import ThreadPoolTaskRunner
    from tqdm import tqdm

    from flows.progress import listener, task_states_off_the_console
    from flows.song import stages_of

    flow = flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=concurrency or spec.concurrency))
    total = total or sum(len(stages_of(song, spec)) for song in spec.songs)
    with tqdm(total=total, desc=spec.title, unit="stage", file=sys.stderr) as bar, task_states_off_the_console():
        token = listener.set(bar_listener(bar))
        try:
            api_ready()
            return flow(*args, **kwargs)
        except SongforgeError as error:
            fail(error)
        finally:
            listener.reset(token)


def bar_listener(bar):
    """Advance the bar a stage at a time; a song's failure is one line above it, with the reason."""
    def hear(song: str, stage: str, failed: str | None = None) -> None:
        if failed:
            bar.write(f"failed: {song}: {failed}", file=sys.stderr)
        bar.set_postfix_str(f"{song}: {stage}")
        bar.update()
    return hear


def print_summary(result: dict) -> None:
    """A row per song (its host too when songs ran on several), then each failed song and why."""
    columns = [("song", "song", "{}")] + SUMMARY_COLUMNS
    if len({row.get("host") for row in result["songs"] if row.get("host")}) > 1:
        columns.append(("host", "host", "{}"))
    header = [label for _, label, _ in columns]
    rows = [[row["song"][:28]] + [_cell(row, key, pattern) for key, _, pattern in columns[1:]] for row in result["songs"]]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for line in [header, ["-" * w for w in widths], *rows]:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))
    for row in result["songs"]:
        if "error" in row:
            typer.secho(f"\nfailed: {row['song']}: {row['error']}", fg=typer.colors.RED)
    typer.echo(f"\nreport: {result['report']}\nMLflow: {result['mlflow_page']}")


def _cell(row: dict, key: str, pattern: str) -> str:
    """A summary cell; a failed song says so in its first metric column and leaves the rest blank."""
    if "error" in row and key != "host":
        return "FAILED" if key == SUMMARY_COLUMNS[0][0] else ""
    return fmt(row.get(key), pattern)


def fmt(value: object, pattern: str = "{}") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and pattern == "{}":
        return f"{value:.3f}"
    return pattern.format(value)
