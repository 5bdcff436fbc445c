"""The bench flow: a benchmark's prompts made as an album by the album flow's own code, then the table.

The songs go exactly as `songforge album` sends them (cached, resumable, fanned out to a deployment's GPU
workers when one is named); the table reads the album's metrics.csv and sits beside it.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from songforge.bench.published import published
from songforge.bench.table import BenchResult
from songforge.params import AlbumSpec
from songforge.paths import album_dir, ascii_key
from tasks.bench import bench_table

from .album import run_album


@flow(name="bench", task_runner=ThreadPoolTaskRunner(max_workers=2))
def bench_flow(album: AlbumSpec, out_dir: str = "out", tracking_uri: str | None = None,
               deployment: str | None = None, bench: BenchResult | None = None) -> dict:
    """Make every song of the benchmark's album (as the album flow does), then write its table.

    bench: what the table says besides the numbers (the system, the prompts' source, prompts not taken,
    metrics not measured); the songs that fail are added from the album's result.
    """
    result = run_album(album, Path(out_dir), tracking_uri, deployment)
    bench = (bench or BenchResult(system=album.title, prompts="", total_prompts=len(album.songs)))
    bench = bench.model_copy(update={"failed": dict(result.get("failed") or {})})
    table = bench_table(album_dir(Path(out_dir), album.title), bench, published())
    create_markdown_artifact(table["markdown"], key=ascii_key(f"{album.slug}-bench"),
                             description=f"{album.title}: our means beside the published systems")
    return {**result, "bench": table}
