"""The other systems' published WildSongBench means, shipped as package data with the line that says where from."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

DATA = "bench/wildsongbench-published.csv"
SOURCE = "bench/wildsongbench-published.source.txt"
TEXT_COLUMNS = ("dataset", "system")


@dataclass(frozen=True)
class Published:
    """rows: a system each, its numbers as floats (n an int); source: repository, file, commit and protocol."""

    rows: list[dict[str, str | float | int | None]]
    source: str


def published() -> Published:
    """The published table as songforge ships it (never read from outside the package)."""
    data = resources.files("songforge.data")
    rows = list(csv.DictReader(data.joinpath(DATA).read_text(encoding="utf-8").splitlines()))
    return Published([parse_row(row) for row in rows], data.joinpath(SOURCE).read_text(encoding="utf-8").strip())


def parse_row(row: dict[str, str]) -> dict[str, str | float | int | None]:
    """Text columns kept; `n` an int; every other cell a float (None when empty)."""
    parsed: dict[str, str | float | int | None] = {}
    for key, value in row.items():
        if key in TEXT_COLUMNS:
            parsed[key] = value
        elif value in ("", None):
            parsed[key] = None
        else:
            parsed[key] = int(value) if key == "n" else float(value)
    return parsed
