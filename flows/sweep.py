"""The sweep flow: every take of every swept song, a parent MLflow run with a child per take × song, then the comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from songforge.params import AlbumSpec, SongSpec
from songforge.paths import ascii_key
from songforge.report.compare import TakeSong, write_comparison
from songforge.report.safe_text import markdown_text
from songforge.sweep import SweepPlan, Take
from songforge.sweep_best import derived_metrics, parse_best
from tasks import stages
from tasks.cache import cached_task
from tasks.track import TrackedRun, default_tracking_uri, finish_sweep_run, log_take, runs_page, start_sweep_run

from .engines import EngineSteps, submit_once
from .progress import stage_done

comparison = cached_task("sweep-comparison")(write_comparison)


@flow(name="sweep", task_runner=ThreadPoolTaskRunner(max_workers=2))
def sweep_flow(plan: SweepPlan, out_dir: str = "out", tracking_uri: str | None = None, best: str | None = None) -> dict:
    """Every take of the plan under out_dir/<album>/sweeps/<sweep>/<take>/, tracked, compared, the best picked."""
    return run_sweep(plan, Path(out_dir), tracking_uri or default_tracking_uri(), best or plan.best)


@flow(name="sweep-file")
def sweep_file_flow(sweep_file: str, out_dir: str = "out", tracking_uri: str | None = None, best: str | None = None) -> dict:
    """The sweep flow for deployments: takes the sweep file's path (every path in it confined, see flows.song)."""
    from songforge.confine import confine_all
    from songforge.preflight import check_models
    from songforge.sweep import load_sweep

    from .song import deployment_roots

    roots = deployment_roots()
    confine_all({"sweep_file": Path(sweep_file), "out_dir": Path(out_dir)}, roots)
    plan = load_sweep(Path(sweep_file), roots=roots)
    check_models([song for take in plan.takes for song in plan.album_for(take).songs], source=sweep_file)
    return sweep_flow(plan, out_dir, tracking_uri, best)


def run_sweep(plan: SweepPlan, out_dir: Path, tracking_uri: str, best: str | None) -> dict:
    rule = parse_best(best, source=plan.source) if best else None
    folder = plan.folder(out_dir)
    parent = start_sweep_run(plan, tracking_uri)
    albums = {take.id: plan.album_for(take) for take in plan.takes}
    shared: dict = {}
    songs = [(take, song, plan.song_folder(out_dir, take, i, song))
             for take in plan.takes for i, song in enumerate(albums[take.id].songs, start=1)]
    engines = EngineSteps([(song, folder) for _, song, folder in songs], shared)
    jobs = [(take, song, submit_take_song(song, folder, albums[take.id], take, parent, shared, engines.submit(n)))
            for n, (take, song, folder) in enumerate(songs)]
    results = wait_for_takes(jobs)
    entries = [take_entry(take, song, albums[take.id], result, folder) for (take, song, _), result in zip(jobs, results)]
    report = comparison(plan.name, entries, plan.swept, folder, rule)
    finish_sweep_run(parent, report, [result["track"] for result in results])
    rows = [entry.row() for entry in entries]
    create_table_artifact(rows, key=ascii_key(f"sweep-{plan.album.slug}-{plan.slug}"),
                          description=f"sweep {plan.name}: a row per take and song")
    create_markdown_artifact(f"MLflow parent run {parent.run_id} in {markdown_text(tracking_uri)}; comparison: "
                             f"{markdown_text(report.path('html'))}", key=ascii_key(f"sweep-{plan.slug}-links"))
    best_takes = json.loads(report.path("best").read_text())["songs"] if rule else {}
    return {"sweep": plan.name, "mlflow_run_id": parent.run_id, "mlflow_page": runs_page(parent),
            "comparison": str(report.path("html")),
            "csv": str(report.path("csv")), "rows": rows, "swept": list(plan.swept),
            "best_rule": str(rule) if rule else None, "best": best_takes, "folder": str(folder)}


def submit_take_song(song: SongSpec, folder: Path, album: AlbumSpec, take: Take, parent: TrackedRun,
                     shared: dict, engine: dict[str, PrefectFuture]) -> dict[str, PrefectFuture]:
    """flows.song.submit_song for one take after its engine futures, except that a stage whose inputs equal
    another take's reuses that take's future and files: a reference-track sweep generates and mixes each song
    once. (A seed sweep's YuE takes decode their stage 1 as batches: flows.engines.)"""
    def once(stage: str, inputs: Any, submit: Callable[[], PrefectFuture]) -> PrefectFuture:
        return submit_once(shared, (stage, inputs), submit)

    mastered = [song, song.mix, album.master]
    out = {"lyrics": once("lyrics", [song.title, song.sections.text, song.style],
                          lambda: stages.write_lyrics.submit(song, folder)), **engine}
    out["mix"] = once("mix", [song, song.mix], lambda: stages.mix.submit(out["generate"], song.mix, folder))
    out["master"] = once("master", mastered, lambda: stages.master.submit(out["mix"], album.master, folder))
    out["measure"] = once("measure", [*mastered, album.measure], lambda: stages.measure.submit(
        out["master"], out["generate"], song, album.measure, folder))
    out["plots"] = once("plots", mastered, lambda: stages.plots.submit(
        out["master"], out["measure"], out["generate"], song, folder))
    out["track"] = log_take.submit(parent, take, song, dict(out), album.master)
    return out


def wait_for_takes(jobs: list[tuple[Take, SongSpec, dict[str, PrefectFuture]]]) -> list[dict]:
    """Results per take and song (stage -> result), reporting each stage to every take that shares it."""
    owners: dict[int, list[tuple[str, str]]] = {}
    unique: dict[int, PrefectFuture] = {}
    for take, song, futures in jobs:
        for stage, future in futures.items():
            owners.setdefault(id(future), []).append((f"{take.id} {song.title}", stage))
            unique[id(future)] = future
    for future in as_completed(list(unique.values())):
        for owner in owners[id(future)]:
            stage_done(*owner)
    return [{stage: future.result() for stage, future in futures.items()} for _, _, futures in jobs]


def take_entry(take: Take, song: SongSpec, album: AlbumSpec, result: dict, folder: Path) -> TakeSong:
    """The comparison's view of one take of one song: its swept values, metrics, and files relative to `folder`."""
    measured = result["measure"].data
    params = {key: (Path(value).name if isinstance(value, Path) else value) for key, value in take.overrides.items()}
    params = {key: "none" if key == "reference" and value is None else value for key, value in params.items()}
    return TakeSong(take=take.id, label=take.label, song=song.title, params=params,
                    metrics={**measured, **derived_metrics(measured, song, album.master)},
                    audio=result["master"].path("preview").relative_to(folder).as_posix(),
                    image=result["plots"].path("waveform").relative_to(folder).as_posix())
