"""The benchmark table as a task: our means from the album's metrics.csv beside the published rows (songforge.bench)."""

from __future__ import annotations

from prefect import task

from songforge.bench.table import write_bench

# Not cached: it reads metrics.csv, which the album report rewrites each run, and costs milliseconds.
bench_table = task(name="bench-table")(write_bench)
