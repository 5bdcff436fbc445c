"""`songforge bench wildsongbench`: a benchmark's prompts made as an album, our means beside the published systems.

The songs run exactly as `songforge album` runs them (the same checks, progress bar, cache, --deployment);
the table is written beside the album's metrics.csv and printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from songforge.errors import SongforgeError

from .album_run import check_before_run, input_warnings, prefect_api, print_summary, run_with_bar
from .console import fail

bench_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Benchmarks: a benchmark's prompts made as an album, beside the published systems.")


@bench_app.command("wildsongbench")
def wildsongbench_command(
    engine: str = typer.Option("yue", help="the engine that makes the songs (sketch: a quick dry run)"),
    limit: Optional[int] = typer.Option(None, help="the first N prompts only (default: all 192)"),
    takes: int = typer.Option(2, help="takes per prompt, the lower PER kept (the benchmark's protocol)"),
    out: Path = typer.Option(Path("out"), help="output folder: songs and the table go to OUT/wildsongbench-<engine>/"),
    prompts: Optional[Path] = typer.Option(
        None, help="a local copy of the prompts (JSON lines, JSON, CSV or parquet); default: the pulled data set "
                   "(songforge models pull wildsongbench)"),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow store (default: ./mlflow.db)"),
    concurrency: Optional[int] = typer.Option(None, help="songs' stages run at once (default: 2)"),
    deployment: Optional[str] = typer.Option(
        None, help="run each song as a flow run of this deployment, e.g. album-song/gpu (as songforge album does)"),
) -> None:
    """WildSongBench's prompts made by an engine; our means (AudioBox PQ, MuLan, PER, SongEval, CLAP) beside the
    published systems' rows. Prompts the engine cannot take are listed with the reason."""
    from songforge.bench.plan import plan_wildsongbench


    try:
        with input_warnings():
            album, bench = plan_wildsongbench(engine, takes, limit, prompts)
        check_before_run(album, bench.prompts, deployment)
    except SongforgeError as error:
        fail(error)
    from flows.bench import bench_flow

    with prefect_api() as api_ready:
        result = run_with_bar(bench_flow, (album, str(out), tracking_uri, deployment), {"bench": bench}, album,
                              concurrency, api_ready)
    print_summary(result)
    typer.echo("\n" + result["bench"]["markdown"])
    typer.echo(f"table: {result['bench']['markdown_file']}\n       {result['bench']['csv']}")
    if result.get("failed"):
        raise typer.Exit(1)
