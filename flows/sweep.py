"""The sweep flow: every take of every swept song, a parent MLflow run with a child per take × song, then the comparison."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from songforge.params import AlbumSpec, SongSpec
from songforge.paths import ascii_key
from songforge.plan import PlanView, plan_song
from songforge.report.album import song_metrics
from songforge.report.compare import TakeSong, write_comparison
from songforge.report.safe_text import markdown_text
from songforge.sweep import SweepPlan, Take
from songforge.sweep_best import derived_metrics, parse_best, swept_metrics
from tasks.cache import cached_task
from tasks.track import TrackedRun, default_tracking_uri, finish_sweep_run, log_take, runs_page, start_sweep_run

from .plan import submit_plans
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
    from songforge.preflight import check_sweep
    from songforge.sweep import load_sweep

    from .song import deployment_roots

    roots = deployment_roots()
    confine_all({"sweep_file": Path(sweep_file), "out_dir": Path(out_dir)}, roots)
    plan = load_sweep(Path(sweep_file), roots=roots)
    check_sweep(plan, source=sweep_file)
    return sweep_flow(plan, out_dir, tracking_uri, best)


def run_sweep(plan: SweepPlan, out_dir: Path, tracking_uri: str, best: str | None) -> dict:
    rule = parse_best(best, source=plan.source, available=swept_metrics(plan.album)) if best else None
    folder = plan.folder(out_dir)
    parent = start_sweep_run(plan, tracking_uri)
    albums = {take.id: plan.album_for(take) for take in plan.takes}
    songs = [(take, song, plan.song_folder(out_dir, take, i, song))
             for take in plan.takes for i, song in enumerate(albums[take.id].songs, start=1)]
    plans = [plan_song(song, albums[take.id]) for take, song, _ in songs]
    # one DAG for every take; a step whose call equals another take's is submitted once (a reference sweep
    # makes each song's take once), and the batchable steps of every take and song are batched together
    submitted = submit_plans([(song_plan, folder) for song_plan, (_, _, folder) in zip(plans, songs)])
    for (take, song, _), song_plan, futures in zip(songs, plans, submitted):
        futures["track"] = log_take.submit(parent, take, song, dict(futures), albums[take.id].master, song_plan.view())
    jobs = [(take, song, futures) for (take, song, _), futures in zip(songs, submitted)]
    results = wait_for_takes(jobs)
    entries = [take_entry(take, song, albums[take.id], result, folder, song_plan.view())
               for (take, song, _), result, song_plan in zip(jobs, results, plans)]
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


def take_entry(take: Take, song: SongSpec, album: AlbumSpec, result: dict, folder: Path, view: PlanView) -> TakeSong:
    """The comparison's view of one take of one song: its swept values, metrics, its main player and first picture
    (relative to `folder`)."""
    measured = song_metrics(result, view) or {}
    params = {key: (Path(value).name if isinstance(value, Path) else value) for key, value in take.overrides.items()}
    params = {key: "none" if key == "reference" and value is None else value for key, value in params.items()}
    (_, player, played), (pictured, picture) = view.players[0], view.pictures[0]
    return TakeSong(take=take.id, label=take.label, song=song.title, params=params,
                    metrics={**measured, **derived_metrics(measured, song, album.master)},
                    audio=result[player].path(played).relative_to(folder).as_posix(),
                    image=result[pictured].path(picture).relative_to(folder).as_posix())
