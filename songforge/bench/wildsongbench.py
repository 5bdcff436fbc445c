"""WildSongBench's prompts: the hub data set in the catalogue, and its files read into `Prompt`s.

Schema. The data set (`m-a-p/WildSongBench`, 192 prompts, Chinese and English; the hub lists its format as
json, with a `code/` folder holding generate.py) publishes no schema that could be read from here: its dataset
card was not reachable through the search tools. What is documented: YuE's docs/benchmarks.md (192 prompts, each
system judged on the better of two candidates by PER), and a public evaluation script that reads the
official manifest as JSON lines with `prompt_index`, `style`, `lyrics` and `candidate_ar_seeds`. COLUMNS below
is the one place mapping the data set's column names to ours (the first name found in a row wins): a correction
is one edit there. A prompt without a language is told by its lyrics' script (CJK: zh, else en).

Files: JSON lines, a JSON array (or an object holding one under a key such as "prompts"), CSV or parquet.
A pulled copy lives in the models folder (`songforge models pull wildsongbench`); nothing downloads at run time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..catalogue import HubModel, register_model
from ..errors import ParamsError
from ..licences import unknown
from ..models import MANIFEST, models_dir, read_manifest

NAME = "wildsongbench"
# The hub shows one commit, e5818d4 ("Release WildSongBench"); its full hash was not readable from here, so the
# entry follows main and each pull records the exact commit it fetched (songforge-model.json), which the table cites.
DATASET = register_model(NAME, HubModel(
    repo="m-a-p/WildSongBench", revision="main", repo_type="dataset",
    licence=unknown("wildsongbench", "https://huggingface.co/datasets/m-a-p/WildSongBench"),
    patterns=("*.json", "*.jsonl", "*.parquet", "*.csv", "README.md"),
    what="WildSongBench prompts (data set): `songforge bench wildsongbench`"))

# Our field -> the data set's column names, in the order they are tried. The one place to correct the schema.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("prompt_index", "id", "idx", "index", "prompt_id"),
    "lyrics": ("lyrics", "lyric", "lyrics_text"),
    "style": ("style", "text_prompt", "prompt", "description", "caption", "tags", "genre"),
    "language": ("language", "lang", "lyrics_language"),
    "duration_s": ("duration", "duration_s", "length_s", "seconds"),
    "seed": ("candidate_ar_seeds", "seed", "seeds"),
}
LANGUAGE_NAMES = {"english": "en", "chinese": "zh", "mandarin": "zh", "zh-cn": "zh", "cn": "zh", "japanese": "ja",
                  "korean": "ko", "italian": "it", "cantonese": "yue"}
SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Prompt:
    """One benchmark prompt, in our terms. language: an ISO code ('' if none given and none could be told);
    duration_s / seed: None when the data set gives none."""

    id: str
    lyrics: str
    style: str
    language: str
    duration_s: float | None = None
    seed: int | None = None


def prompts_file(folder: Path | None = None) -> Path:
    """The prompts file of a pulled copy (default: the models folder's wildsongbench/); ParamsError with the pull
    command when there is none, or with --prompts when several files could be it."""
    folder = folder or models_dir() / NAME
    found = sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.name != MANIFEST
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts)) if folder.is_dir() else []
    if not found:
        raise ParamsError("prompts", f"no WildSongBench prompts in {folder}",
                          f"run `songforge models pull {NAME}` (on a machine with internet), or give a local copy "
                          "with --prompts PATH")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in found[:6])
        raise ParamsError("prompts", f"{folder} holds several data files ({names})",
                          "name the prompts file with --prompts PATH")
    return found[0]


def revision_of(path: Path) -> str | None:
    """The hub commit a pulled prompts file was fetched at (its folder's manifest), None for a local copy."""
    for folder in [path.parent, *path.parents]:
        manifest = read_manifest(folder)
        if manifest is not None:
            return manifest.get("revision")
    return None


def read_prompts(path: Path) -> list[Prompt]:
    """Every prompt of a WildSongBench file, in file order; ParamsError naming the file when it cannot be read."""
    rows = _rows(Path(path))
    if not rows:
        raise ParamsError("prompts", f"{path} holds no prompts", "give the WildSongBench prompts file")
    return [to_prompt(row, index) for index, row in enumerate(rows)]


def to_prompt(row: dict[str, Any], index: int) -> Prompt:
    """A row of the data set as a Prompt, through COLUMNS; its position names it when it has no id."""
    found = {field: _first(row, names) for field, names in COLUMNS.items()}
    lyrics = "" if found["lyrics"] is None else str(found["lyrics"])
    return Prompt(id=str(index if found["id"] is None else found["id"]), lyrics=lyrics,
                  style=_text(found["style"]), language=_language(found["language"], lyrics),
                  duration_s=_number(found["duration_s"]), seed=_seed(found["seed"]))


def _first(row: dict[str, Any], names: Iterable[str]) -> Any:
    lowered = {str(key).lower(): value for key, value in row.items()}
    return next((lowered[name] for name in names if _present(lowered.get(name))), None)


def _present(value: Any) -> bool:
    return value is not None and value != "" and value == value  # NaN (a CSV's empty cell read by pandas) is absent


def _text(value: Any) -> str:
    """Style as one line: a list of tags joined by commas."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else " ".join(str(value).split())


def _language(value: Any, lyrics: str) -> str:
    if value is None:
        return "zh" if _CJK.search(lyrics) else ("en" if lyrics.strip() else "")
    code = str(value).strip().lower()
    return LANGUAGE_NAMES.get(code, code)


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _seed(value: Any) -> int | None:
    """A seed, or the first of the data set's candidate seeds."""
    if isinstance(value, str) and value.strip().startswith("["):
        value = json.loads(value)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    number = _number(value)
    return None if number is None or number < 0 else int(number)


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ParamsError("prompts", f"{path} does not exist",
                          f"give the prompts file, or run `songforge models pull {NAME}`")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text, newline="")))  # keeps a quoted cell's line breaks
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return _json_rows(json.loads(text))
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise ParamsError("prompts", f"{path} could not be read as {path.suffix[1:] or 'data'}: {error}",
                          "give the WildSongBench prompts file as JSON lines, JSON, CSV or parquet") from None


def _json_rows(data: Any) -> list[dict[str, Any]]:
    """A JSON array of rows, or an object holding one (under any key), or an object of id -> row."""
    if isinstance(data, list):
        return [row for row in data if isinstance(row, dict)]
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        if lists:
            return _json_rows(lists[0])
        if all(isinstance(value, dict) for value in data.values()):
            return [{"id": key, **value} for key, value in data.items()]
    raise ValueError("neither a list of prompts nor an object holding one")
