"""`songforge bench wildsongbench` before any run: the prompts read, the metrics chosen, the album and its notes.

Everything the command can refuse is refused here (no prompts, an engine that can take none of them), and
everything the table will say about the run (prompts not taken, metrics not measured, takes not honoured) is
decided here, so the flow only makes songs and tabulates.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ParamsError
from ..params import AlbumSpec
from .metrics import choose_metrics
from .songs import bench_album, takes_fields
from .table import BenchResult
from .wildsongbench import DATASET, prompts_file, read_prompts, revision_of


def plan_wildsongbench(engine: str, takes: int = 2, limit: int | None = None, prompts: Path | None = None,
                       concurrency: int = 2) -> tuple[AlbumSpec, BenchResult]:
    """The album of the prompts `engine` can take (the first `limit` of the file, or all), and the table's notes.
    prompts: a local copy; default the pulled data set (`songforge models pull wildsongbench`)."""
    if limit is not None and limit < 1:
        raise ParamsError("--limit", f"{limit} prompts", "give at least 1, or leave --limit out for all of them")
    path = Path(prompts) if prompts is not None else prompts_file()
    chosen = read_prompts(path)[:limit]
    metrics = choose_metrics(engine)
    take, notes = takes_fields(takes, per_measured="intelligibility" in metrics.settings)
    made = bench_album(chosen, engine, f"WildSongBench {engine}", {**take, **metrics.settings}, concurrency)
    revision = revision_of(path)
    result = BenchResult(
        system=f"songforge {engine}" + (f" (best of {takes} by PER)" if take else ""),
        prompts=f"{DATASET.repo}@{revision}" if revision else str(path), total_prompts=len(chosen),
        untaken=made.untaken, not_measured=metrics.not_measured, notes=notes)
    return made.album, result
