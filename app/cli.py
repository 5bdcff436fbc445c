"""The `songforge` command: album, song, edit, sweep, bench, measure, yue, models, separate, serve, setup, worker.

Params are checked before Prefect is imported; only the commands that run flows import it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from songforge.errors import SongforgeError

from .album_run import bar_listener as _bar_listener
from .album_run import check_before_run, prefect_api as _prefect_api, print_summary as _print_summary  # noqa: F401
from .album_run import fmt as _fmt, input_warnings as _input_warnings, run_flow as _run_flow
from .bench_cli import bench_app
from .console import fail
from .edit_cli import edit_command
from .models_cli import models_app
from .separate_cli import separate_command
from .write_cli import write_command
from .yue_cli import yue_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
app.add_typer(yue_app, name="yue")
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
app.command("separate")(separate_command)
app.command("edit")(edit_command)
app.command("write")(write_command)

@app.command()
def album(
    file: Path = typer.Argument(..., help="album params YAML, e.g. params/albums/demo.yaml"),
    out: Path = typer.Option(Path("out"), help="output folder; songs go to OUT/<album>/<nn>-<song>/"),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow store (default: ./mlflow.db)"),
    concurrency: Optional[int] = typer.Option(None, help="songs' stages run at once (default: the album's concurrency)"),
    overrides: Optional[Path] = typer.Option(
        None, help="params file whose non-null 'engine:' values override every song's engine params (params.yaml)"),
    deployment: Optional[str] = typer.Option(
        None, help="run each song as a flow run of this deployment, e.g. album-song/gpu: the GPU hosts' workers "
                   "share the songs (needs PREFECT_API_URL; out and the tracking URI must reach every host)"),
) -> None:
    """Make every song of an album: generate, mix, master, measure, report, track. A song with bad lyrics fails alone."""
    _run(file, out, tracking_uri, concurrency, flow_name="album", overrides=overrides, deployment=deployment)


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
    vocals: Optional[Path] = typer.Option(None, help="the vocal stem, for the vocal range (and the voice flags)"),
    take: Optional[Path] = typer.Option(
        None, help="the take.json the engine wrote beside the stems: its lyric timeline lets the flags check a "
                   "song that ends before its lyrics and sections with lyrics but no voice (with --vocals)"),
    bpm: Optional[float] = typer.Option(None, help="requested tempo, for tempo accuracy"),
    key: Optional[str] = typer.Option(None, help="requested key, e.g. 'A minor', for key agreement"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Loudness, true peak, range, tempo, key, bandwidth, roll-off, width and clipping of a file, and its failure
    flags (silence, clipping, loops; ends early and voiceless sections with --vocals and --take). A true peak above
    0 dBTP, clipped samples and every raised flag are named in plain words (on stderr)."""
    import torch

    from songforge.measure.advice import flag_warnings, peak_warnings
    from songforge.measure.check_file import check_file
    from songforge.measure.crepe_net import CPU_THREADS
    from songforge.music import Key

    torch.set_num_threads(CPU_THREADS)  # this process only measures: see crepe_net

    try:
        checked = check_file(file, vocals_path=vocals, take_path=take, bpm=bpm, key=Key.parse(key) if key else None)
    except (SongforgeError, ValueError) as error:
        fail(error)
    metrics = checked.to_dict()
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        rows = {k: v for k, v in metrics.items() if k != "flags"}
        rows.update({f"flag_{f.name}": f.summary if "skipped" in f.evidence else
                     f"{'RAISED' if f.raised else 'no'}: {f.summary}" for f in checked.flags})
        width = max(map(len, rows))
        typer.echo("\n".join(f"{k:<{width}}  {_fmt(v)}" for k, v in rows.items()))
    for line in peak_warnings(checked.metrics) + flag_warnings(checked.flags):
        typer.secho(f"warning: {line}", fg=typer.colors.YELLOW, err=True)


def _run(file: Path, out: Path, tracking_uri: str | None, concurrency: int | None, flow_name: str,
         overrides: Path | None = None, deployment: str | None = None) -> None:
    from songforge.album_file import load_album
    from songforge.overrides import apply_overrides, load_overrides

    try:
        # Every params error surfaces here, before any run exists; only an album's song with
        # unusable lyrics is set aside, to fail alone while the others are made.
        with _input_warnings():
            spec = load_album(file, lenient_songs=flow_name == "album")
        if overrides is not None:
            spec = apply_overrides(spec, load_overrides(overrides), source=str(overrides))
        check_before_run(spec, str(file), deployment)
    except SongforgeError as error:
        fail(error)
    with _prefect_api() as api_ready:
        _run_flow(spec, out, tracking_uri, concurrency, flow_name, api_ready, deployment)


@app.command()
def sweep(
    file: Path = typer.Argument(..., help="sweep params YAML, e.g. params/sweeps/demo-temperature.yaml"),
    best: Optional[str] = typer.Option(
        None, help="pick each song's best take by METRIC: 'key_score', 'min:lufs_error', 'max:lufs' (default: the file's best:)"),
    out: Path = typer.Option(Path("out"), help="output folder; takes go to OUT/<album>/sweeps/<sweep>/<take>/"),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow store (default: ./mlflow.db)"),
    concurrency: Optional[int] = typer.Option(None, help="stages run at once (default: the album's concurrency)"),
) -> None:
    """Remake songs over engine params, seeds and master references; compare the takes and pick the best."""
    from songforge.preflight import check_sweep
    from songforge.sweep import load_sweep
    from songforge.sweep_best import parse_best

    try:
        with _input_warnings():
            plan = load_sweep(file)  # every key and value checked here, before any run exists
        if best:
            parse_best(best)
        check_sweep(plan, source=str(file))
    except SongforgeError as error:
        fail(error)
    with _prefect_api() as api_ready:
        _run_sweep(plan, out, tracking_uri, concurrency, best, api_ready)


def _run_sweep(plan, out: Path, tracking_uri: str | None, concurrency: int | None, best: str | None, api_ready) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from tqdm import tqdm

    from flows.progress import listener
    from flows.song import stages_of
    from flows.sweep import sweep_flow

    flow = sweep_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=concurrency or plan.album.concurrency))
    total = sum(len(stages_of(song, album)) for take in plan.takes for album in [plan.album_for(take)]
                for song in album.songs)
    with tqdm(total=total, desc=f"sweep {plan.name}", unit="stage", file=sys.stderr) as bar:
        token = listener.set(_bar_listener(bar))
        try:
            api_ready()
            result = flow(plan, str(out), tracking_uri, best)
        except SongforgeError as error:
            fail(error)
        finally:
            listener.reset(token)
    _print_sweep_summary(result)


def _print_sweep_summary(result: dict) -> None:
    rule = result["best_rule"]
    metric = rule.split(":")[-1] if rule else None
    columns = ["take", "song", *result["swept"], *dict.fromkeys(["lufs", "true_peak_dbtp", "key_score", metric] if metric
                                                                 else ["lufs", "true_peak_dbtp", "key_score"])]
    rows = [[_fmt(row.get(c))[:28] for c in columns] for row in result["rows"]]
    widths = [max(len(str(c)) for c in col) for col in zip(columns, *rows)]
    for line in [columns, ["-" * w for w in widths], *rows]:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))
    if rule:
        typer.echo(f"\nbest take per song ({rule}):")
        for song, pick in result["best"].items():
            typer.echo(f"  {song}: " + (f"{pick['take']}  ({metric} = {_fmt(pick['value'])})" if pick else "no measured value"))
    typer.echo(f"\ncomparison: {result['comparison']}\nMLflow: {result['mlflow_page']}")


@app.command()
def serve(
    port: int = typer.Option(4200, help="Prefect server port (UI and API)"),
    mlflow_port: int = typer.Option(5000, help="MLflow server port"),
    store: Optional[str] = typer.Option(None, help="shared result store (a folder or s3://...); default: Prefect's own"),
    deploy: bool = typer.Option(True, help="register deployments/prefect.yaml with the server"),
    host: str = typer.Option("127.0.0.1", help="address to listen on; off loopback (a studio LAN) it needs "
                             "PREFECT_SERVER_API_AUTH_STRING and MLFLOW_AUTH_ADMIN_PASSWORD"),
    allowed_hosts: str = typer.Option("", help="more names the studio is reached by, comma-separated (default: "
                                      "127.0.0.1, localhost, --host, and off loopback this machine's names)"),
) -> None:
    """The one-box studio: Prefect and MLflow servers (127.0.0.1 unless --host), pools, deployments, workers."""
    from .studio import Studio
    from .studio_access import access_for

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        access = access_for(host, allowed_hosts.split(","))
        Studio(Path.cwd(), port, mlflow_port, store, deploy, echo=typer.echo, access=access).run()
    except SongforgeError as error:
        fail(error)


@app.command()
def setup(
    store: Optional[str] = typer.Option(
        None, help="result store every host reaches: a folder mounted at the same path on all, or s3://bucket/prefix"),
) -> None:
    """Once per Prefect server (PREFECT_API_URL): the gpu and studio pools, crash detection, the shared result store."""
    from .hosts import setup as setup_server

    _need_server("setup")
    try:
        for what, outcome in setup_server(store).items():
            typer.echo(f"{what}: {outcome}")
    except SongforgeError as error:
        fail(error)


@app.command()
def worker(
    pool: str = typer.Option("gpu", help="work pool to take flow runs from"),
    host: Optional[str] = typer.Option(None, envvar="SONGFORGE_HOST", help="this host's name (default: its hostname)"),
    slots: Optional[int] = typer.Option(None, envvar="SONGFORGE_GPU_SLOTS", help="engine stages at once (default: GPUs)"),
    runs: Optional[int] = typer.Option(None, help="flow runs at once (default: slots)"),
) -> None:
    """A GPU host's worker: sizes its limit gpu-<host> to its GPUs, then runs `prefect worker start`."""
    from .hosts import worker_argv

    _need_server("worker")
    try:
        argv, env = worker_argv(pool, host, slots, runs)
    except SongforgeError as error:
        fail(error)
    typer.echo(f"host {env['SONGFORGE_HOST']}: {' '.join(argv[2:])}")
    os.execvpe(argv[0], argv, env)


def _need_server(command: str) -> None:
    if not os.environ.get("PREFECT_API_URL"):
        fail(SongforgeError(f"songforge {command} talks to a Prefect server. Fix: export PREFECT_API_URL="
                             "http://<server>:4200/api (songforge serve prints it)."))


if __name__ == "__main__":
    app()
