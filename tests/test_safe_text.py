"""User text in the tables and notes we write stays text: no spreadsheet formulas, no markdown or HTML."""

import csv
import io
import re
from pathlib import Path

from songforge.report.safe_text import csv_text, markdown_text, spreadsheet_cell


def test_cells_that_a_spreadsheet_would_run_get_a_leading_quote():
    rows = [{"song": "=HYPERLINK(\"http://evil.example\",\"click\")", "error": "+1", "lufs": -14.0},
            {"song": "@SUM(A1)", "error": "-cmd|' /C calc'!A0", "lufs": None},
            {"song": "Plain Title", "error": "generate: out of memory", "lufs": -9.5}]
    table = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert [row["song"] for row in table] == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "'@SUM(A1)", "Plain Title"]
    assert [row["error"] for row in table] == ["'+1", "'-cmd|' /C calc'!A0", "generate: out of memory"]
    assert table[0]["lufs"] == "-14.0"  # numbers stay numbers
    assert spreadsheet_cell("\tx") == "'\tx" and spreadsheet_cell(-3) == -3


def test_markdown_text_escapes_links_images_and_html():
    text = markdown_text("[click](http://evil.example) ![x](http://evil.example/p.png) <img src=x onerror=alert(1)>\n# big")
    assert re.search(r"(?<!\\)[<>\[\]()!#]", text) is None  # every active character escaped
    assert "\n" not in text
    assert text.startswith("\\[click\\]\\(http://evil\\.example\\)") and "\\<img" in text


def test_the_album_links_artifact_escapes_failed_titles_and_reasons(tmp_path):
    from flows.album import _links_markdown
    from songforge.album_file import album_from_dict
    from tasks.track import TrackedRun

    lyrics = "[verse]\nOne small line\n"
    album = album_from_dict({"title": "A", "songs": [{"title": "[x](http://evil.example)", "lyrics": lyrics}]})
    markdown = _links_markdown(album, TrackedRun(f"sqlite:///{tmp_path / 'm.db'}", "0" * 32), Path(tmp_path / "r.html"),
                               {"[x](http://evil.example)": "generate: <script>alert(1)</script>"})
    assert "](http://evil" not in markdown and "<script>" not in markdown
    assert "\\[x\\]\\(http://evil\\.example\\)" in markdown
