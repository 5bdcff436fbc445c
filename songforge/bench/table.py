"""The benchmark table: our means over the prompts (from the album's metrics.csv) beside the published rows.

Our row is the mean, over the songs that have a value, of each column we compute (a song is its chosen take);
a column we cannot compute is blank in our row, with the reason below the table. Markdown (printed, and a file)
and CSV, written atomically in the output folder.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Callable

from pydantic import Field

from ..params import Frozen
from ..paths import write_text
from ..report.safe_text import csv_text, markdown_text
from .metrics import metric_keys
from .published import Published
from .songs import Untaken

# Table column -> (label, the metric step that gives it (None: no songforge step does), our value from a song's row).
Value = Callable[[dict[str, Any]], float | None]
COLUMNS: dict[str, tuple[str, str | None, Value | None]] = {
    "songbench_global_avg": ("SongBench avg ↑", None, None),
    "songeval_global_avg": ("SongEval avg ↑", "songeval",
                            lambda row: _mean([row.get(k) for k in metric_keys("songeval")], all_of=True)),
    "audiobox_pq": ("AudioBox PQ ↑", "aesthetics", lambda row: row.get("audiobox_pq")),
    "mulan": ("MuLan ↑", "mulan", lambda row: row.get("mulan")),
    "allmusiccaps": ("AllMusicCaps ↑", None, None),
    "control_overall": ("Prompt control ↑", None, None),
    "per": ("PER ↓", "intelligibility", lambda row: row.get("per")),
    "clap_score": ("CLAP ↑", "clap", lambda row: row.get("clap_score")),
}
NOT_IN_SONGFORGE = {"songbench_global_avg": "SongBench's evaluator is not in songforge",
                    "allmusiccaps": "the AllMusicCaps scorer is not in songforge",
                    "control_overall": "prompt control is judged by Qwen3-Omni, not in songforge"}


class BenchResult(Frozen):
    """What the table shows besides the numbers: where the prompts came from and what was not measured or made."""

    system: str
    prompts: str  # e.g. "m-a-p/WildSongBench@<commit>" or a local file
    total_prompts: int
    untaken: list[Untaken] = Field(default_factory=list)
    not_measured: dict[str, str] = Field(default_factory=dict)  # metric step -> why
    failed: dict[str, str] = Field(default_factory=dict)  # song title -> why
    notes: list[str] = Field(default_factory=list)


def read_metrics_csv(path: Path) -> list[dict[str, Any]]:
    """The album's metrics.csv as rows, numbers as floats (empty cells absent)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [{key: _cell(value) for key, value in row.items() if value not in ("", None)}
                for row in csv.DictReader(handle)]


def our_row(songs: list[dict[str, Any]], system: str) -> dict[str, Any]:
    """Our system's row: n (songs made, failed ones excluded) and each column's mean over the songs with a value."""
    made = [row for row in songs if not row.get("error")]
    row: dict[str, Any] = {"dataset": "WSB", "system": system, "n": len(made)}
    for key, (_, _, value) in COLUMNS.items():
        row[key] = _mean([value(song) for song in made]) if value else None
    return row


def table_rows(ours: dict[str, Any], published: Published) -> list[dict[str, Any]]:
    """Our row first, then the published ones, each with every column (None where a system has no number)."""
    keys = ["dataset", "system", "n", *COLUMNS]
    return [{key: row.get(key) for key in keys} | {"source": source}
            for row, source in [(ours, "songforge"), *((r, "published") for r in published.rows)]]


def markdown(rows: list[dict[str, Any]], result: BenchResult, published: Published) -> str:
    """The table and, below it, every reason a number or a prompt is missing."""
    header = ["system", "n", *(label for label, _, _ in COLUMNS.values())]
    lines = [f"# WildSongBench: {_plain(result.system)} beside the published systems", "",
             f"Prompts: {_plain(result.prompts)}; {rows[0]['n']} of {result.total_prompts} made "
             "(our row: the means over them).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        name = _plain(row["system"])
        count = str(row["n"]) if row["n"] is not None else "–"
        cells = [f"**{name}**" if row["source"] == "songforge" else name, count]
        lines.append("| " + " | ".join(cells + [_format(key, row[key]) for key in COLUMNS]) + " |")
    lines += ["", f"Published rows: {_plain(published.source)}"]
    lines += _reasons(result)
    return "\n".join(lines) + "\n"


def _reasons(result: BenchResult) -> list[str]:
    lines = ["", "Not measured in our row:"]
    for key, (label, step, _) in COLUMNS.items():
        why = NOT_IN_SONGFORGE.get(key) or (result.not_measured.get(step) if step else None)
        if why:
            lines.append(f"- {label.rstrip(' ↑↓')}: {_plain(why)}")
    if result.untaken:
        lines += ["", f"Prompts the engine cannot take ({len(result.untaken)}):"]
        lines += [f"- {markdown_text(u.id)}: {markdown_text(u.reason)}" for u in result.untaken]
    if result.failed:
        lines += ["", f"Songs that failed ({len(result.failed)}):"]
        lines += [f"- {markdown_text(title)}: {markdown_text(why)}" for title, why in result.failed.items()]
    if result.notes:
        lines += ["", "Notes:"] + [f"- {_plain(note)}" for note in result.notes]
    return lines


def write_table(folder: Path, rows: list[dict[str, Any]], text: str, untaken: list[Untaken]) -> dict[str, Path]:
    """wildsongbench.md, wildsongbench.csv and wildsongbench-untaken.csv in `folder`, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"markdown_file": write_text(folder / "wildsongbench.md", text),
            "csv": write_text(folder / "wildsongbench.csv", csv_text(rows)),
            "untaken_csv": write_text(folder / "wildsongbench-untaken.csv",
                                  csv_text([{"prompt": u.id, "reason": u.reason} for u in untaken])
                                  if untaken else "prompt,reason\n")}


def _plain(text: str) -> str:
    """Text songforge ships or makes (system names, the source line): one line, no cell-breaking '|'."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _format(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f} %" if key == "per" else f"{value:.3f}"


def _mean(values: list[Any], all_of: bool = False) -> float | None:
    """The mean of the finite numbers; None when there are none (or, with all_of, when any is missing)."""
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not numbers or (all_of and len(numbers) < len(values)):
        return None
    return sum(numbers) / len(numbers)


def _cell(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def write_bench(album_folder: Path, result: BenchResult, published: Published) -> dict[str, Any]:
    """Read the album's metrics.csv, write the table beside it; {"markdown": text, "ours": our row, files}."""
    metrics = album_folder / "metrics.csv"
    songs = read_metrics_csv(metrics) if metrics.is_file() else []
    rows = table_rows(our_row(songs, result.system), published)
    text = markdown(rows, result, published)
    files = write_table(album_folder, rows, text, result.untaken)
    return {**{key: str(path) for key, path in files.items()}, "markdown": text, "ours": rows[0]}
