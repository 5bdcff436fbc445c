"""User text (titles, error reasons) made inert for the programs that open our tables and notes."""

from __future__ import annotations

import re
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def spreadsheet_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text and never runs as a formula (OWASP: a leading ' on =, +, -, @)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(rows: list[dict[str, Any]]) -> str:
    """A CSV table of `rows` (a column per key), every text cell spreadsheet-safe."""
    import pandas as pd

    return pd.DataFrame([{key: spreadsheet_cell(value) for key, value in row.items()} for row in rows]).to_csv(index=False)


def markdown_text(text: Any) -> str:
    """`text` as one line of plain markdown: every character markdown or HTML would act on is escaped."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", " ".join(str(text).split()))
