"""The `songforge` command: album, song, measure. Prefect is imported only by the commands that run flows."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from songforge.errors import SongforgeError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

SUMMARY_COLUMNS = [("duration_s", "len s", "{:.0f}"), ("lufs", "LUFS", "{:.1f}"), ("true_peak_dbtp", "dBTP", "{:.1f}"),
                   ("tempo_bpm", "bpm", "{:.0f}"), ("tempo_acc1", "acc1", "{:.0f}"), ("key", "key", "{}"),
                   ("key_score", "key ok", "{:.1f}"), ("vocal_range_semitones", "range st", "{:.0f}")]


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command()
def album(
    file: Path = typer.Argument(..., help="album params YAML, e.g. params/albums/demo.yaml"),
    out: Path = typer.Option(Path("out"), help="output folder; songs go to OUT/<album>/<nn>-<song>/"),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow store (default: ./mlflow.db)"),
    concurrency: Optional[int] = typer.Option(None, help="songs' stages run at once (default: the album's concurrency)"),
) -> None:
    """Make every song of an album: generate, mix, master, measure, report, track."""
    _run(file, out, tracking_uri, concurrency, flow_name="album")


@app.command()
def song(
    file: Path = typer.Argument(..., help="a song params YAML (or an album file with one song)"),
    out: Path = typer.Option(Path("out")),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI"),
) -> None:
    """Make one song, with the same stages, layout and tracking as an album."""
    _run(file, out, tracking_uri, None, flow_name="song")


@app.command()
def measure(
    file: Path = typer.Argument(..., help="audio file to measure (wav, flac, mp3, ...)"),
    vocals: Optional[Path] = typer.Option(None, help="the vocal stem, for the vocal range"),
    bpm: Optional[float] = typer.Option(None, help="requested tempo, for tempo accuracy"),
    key: Optional[str] = typer.Option(None, help="requested key, e.g. 'A minor', for key agreement"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Loudness, true peak, range, tempo, key, bandwidth, width and clipping of a file."""
    from songforge.measure.metrics import measure_file
    from songforge.music import Key

    try:
        metrics = measure_file(file, vocals_path=vocals, bpm=bpm, key=Key.parse(key) if key else None).to_dict()
    except (SongforgeError, ValueError) as error:
        _fail(error)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        width = max(map(len, metrics))
        typer.echo("\n".join(f"{k:<{width}}  {_fmt(v)}" for k, v in metrics.items()))


def _run(file: Path, out: Path, tracking_uri: str | None, concurrency: int | None, flow_name: str) -> None:
    from songforge.params import load_album

    try:
        spec = load_album(file)  # every params error surfaces here, before any run exists
    except SongforgeError as error:
        _fail(error)
    with _prefect_api() as api_ready:
        _run_flow(spec, out, tracking_uri, concurrency, flow_name, api_ready)


@contextmanager
def _prefect_api():
    """PREFECT_API_URL if set; else a local API booting in a subprocess while this process imports."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if os.environ.get("PREFECT_API_URL"):
        yield lambda: None
        return
    from flows.local_api import LocalApi

    with LocalApi() as api:
        os.environ["PREFECT_API_URL"] = api.start()
        try:
            yield api.wait
        finally:
            del os.environ["PREFECT_API_URL"]


def _run_flow(spec, out: Path, tracking_uri: str | None, concurrency: int | None, flow_name: str,
              api_ready) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from tqdm import tqdm

    from flows.album import album_flow
    from flows.progress import listener
    from flows.song import STAGES, song_flow
    from tasks.track import warm_up

    flow = (song_flow if flow_name == "song" else album_flow).with_options(
        task_runner=ThreadPoolTaskRunner(max_workers=concurrency or spec.concurrency))
    with tqdm(total=len(spec.songs) * len(STAGES), desc=spec.title, unit="stage", file=sys.stderr) as bar:
        token = listener.set(lambda song, stage: (bar.set_postfix_str(f"{song}: {stage}"), bar.update()))
        try:
            warm_up(tracking_uri)  # overlaps the local API's boot
            api_ready()
            result = flow(spec, str(out), tracking_uri)
        except SongforgeError as error:
            _fail(error)
        finally:
            listener.reset(token)
    _print_summary(result)


def _print_summary(result: dict) -> None:
    header = ["song"] + [label for _, label, _ in SUMMARY_COLUMNS]
    rows = [[row["song"][:28]] + [_fmt(row.get(k), f) for k, _, f in SUMMARY_COLUMNS] for row in result["songs"]]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for line in [header, ["-" * w for w in widths], *rows]:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))
    typer.echo(f"\nreport: {result['report']}\nMLflow run: {result['mlflow_run_id']}")


def _fmt(value: object, pattern: str = "{}") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and pattern == "{}":
        return f"{value:.3f}"
    return pattern.format(value)


if __name__ == "__main__":
    app()
