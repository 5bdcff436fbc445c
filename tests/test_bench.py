"""WildSongBench's library: the prompts reader's column mapping, prompts made songs (or listed with a reason),
the published numbers shipped as package data, and our means from an album's metrics.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from songforge.bench import wildsongbench
from songforge.bench.published import parse_row, published
from songforge.bench.songs import bench_album, song_title, style_tags
from songforge.bench.table import BenchResult, markdown, our_row, read_metrics_csv, table_rows, write_bench
from songforge.bench.wildsongbench import COLUMNS, prompts_file, read_prompts, to_prompt
from songforge.errors import ParamsError

SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "bench" / "wildsongbench-published.csv"
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"
ZH_LYRICS = "[verse]\n月光照在山上\n[chorus]\n等一等\n"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def fixture_rows() -> list[dict]:
    """Rows as the documented manifest writes them (prompt_index, style, lyrics, candidate_ar_seeds)."""
    return [{"prompt_index": 0, "style": "Upbeat pop, female vocal, piano", "lyrics": LYRICS, "candidate_ar_seeds": [11, 12]},
            {"prompt_index": 1, "style": "melancholic folk, male vocal, acoustic guitar", "lyrics": ZH_LYRICS,
             "candidate_ar_seeds": [21, 22]},
            {"prompt_index": 2, "style": "rock", "lyrics": LYRICS, "language": "French"}]


def test_the_documented_columns_map_onto_our_fields(tmp_path):
    prompts = read_prompts(write_jsonl(tmp_path / "wsb.jsonl", fixture_rows()))
    assert [p.id for p in prompts] == ["0", "1", "2"]
    assert prompts[0].style == "Upbeat pop, female vocal, piano" and prompts[0].lyrics == LYRICS
    assert [p.seed for p in prompts] == [11, 21, None]  # the first candidate seed
    assert [p.language for p in prompts] == ["en", "zh", "french"]  # told by the script where not given
    assert prompts[0].duration_s is None


def test_each_field_is_read_from_the_first_column_the_map_names(tmp_path):
    """The map is the one place that names the data set's columns: every alias of a field is read, in order."""
    for field, names in COLUMNS.items():
        for name in names:
            value = {"id": "p7", "lyrics": LYRICS, "style": "pop", "language": "Chinese", "duration_s": 95,
                     "seed": 3}[field]
            prompt = to_prompt({name.upper() if field == "style" else name: value}, 5)
            got = {"id": prompt.id, "lyrics": prompt.lyrics, "style": prompt.style, "language": prompt.language,
                   "duration_s": prompt.duration_s, "seed": prompt.seed}[field]
            assert got == {"language": "zh", "duration_s": 95.0}.get(field, value), (field, name)
    assert to_prompt({"lyrics": LYRICS}, 4).id == "4"  # no id column: its position


@pytest.mark.parametrize("kind", ["json", "csv", "parquet"])
def test_the_same_prompts_read_from_every_file_format(tmp_path, kind):
    rows = [{"prompt_index": r["prompt_index"], "style": r["style"], "lyrics": r["lyrics"]} for r in fixture_rows()]
    path = tmp_path / f"wsb.{kind}"
    if kind == "json":
        path.write_text(json.dumps({"prompts": rows}), encoding="utf-8")
    elif kind == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    expected = read_prompts(write_jsonl(tmp_path / "wsb.jsonl", rows))
    assert read_prompts(path) == expected


def test_no_pulled_copy_names_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    with pytest.raises(ParamsError, match="songforge models pull wildsongbench"):
        prompts_file()
    folder = tmp_path / "models" / "wildsongbench"
    write_jsonl(folder / "data" / "wsb.jsonl", fixture_rows())
    (folder / "songforge-model.json").write_text("{}")  # the pull's manifest is not a prompts file
    assert prompts_file() == folder / "data" / "wsb.jsonl"
    write_jsonl(folder / "other.jsonl", fixture_rows())
    with pytest.raises(ParamsError, match="--prompts"):
        prompts_file()


def test_an_unreadable_prompts_file_is_named(tmp_path):
    bad = tmp_path / "wsb.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(ParamsError, match="wsb.jsonl could not be read"):
        read_prompts(bad)


def test_the_data_set_is_in_the_catalogue_as_a_dataset_repo():
    from songforge.catalogue import catalogue_entry

    entry = catalogue_entry("wildsongbench")
    assert entry.repo == "m-a-p/WildSongBench" and entry.repo_type == "dataset"
    assert entry is wildsongbench.DATASET


def test_style_text_becomes_yue_tags():
    assert style_tags("Upbeat pop, female vocal, piano and electric guitar") == {
        "genre": ["pop"], "instrument": ["piano", "electric guitar"], "mood": ["upbeat"], "voice": ["female"]}
    assert style_tags("nothing known here") == {}


def test_prompts_become_songs_and_the_untakeable_are_listed_with_the_reason(tmp_path):
    rows = fixture_rows() + [{"prompt_index": 3, "style": "pop", "lyrics": ""},
                             {"prompt_index": 4, "style": "pop", "lyrics": LYRICS, "duration": 900}]
    made = bench_album(read_prompts(write_jsonl(tmp_path / "wsb.jsonl", rows)), "sketch", "WSB sketch", {})
    titles = [song.title for song in made.album.songs]
    assert titles == ["wsb-000", "wsb-001"] and made.prompt_ids == {"wsb-000": "0", "wsb-001": "1"}
    first, second = made.album.songs
    assert first.seed == 11 and first.genre == ["pop"] and first.voice == ["female"] and first.language == "en"
    assert second.language == "zh" and second.instrument == ["acoustic guitar"]
    assert first.duration_s >= 10  # fitted to the lyrics by the sketch engine's own count
    reasons = {u.id: u.reason for u in made.untaken}
    assert set(reasons) == {"2", "3", "4"}
    assert "language" in reasons["2"] and "lyrics" in reasons["3"] and "duration_s" in reasons["4"]
    assert song_title(read_prompts(write_jsonl(tmp_path / "one.jsonl", [{"id": "abc", "lyrics": LYRICS}]))[0]) == "wsb-abc"


def test_an_engine_that_can_take_no_prompt_is_refused(tmp_path):
    rows = [{"prompt_index": 0, "style": "pop", "lyrics": LYRICS, "language": "French"}]
    with pytest.raises(ParamsError, match="can take none of the prompts"):
        bench_album(read_prompts(write_jsonl(tmp_path / "wsb.jsonl", rows)), "sketch", "WSB", {})


def test_published_numbers_in_package_data_equal_shared_csv():
    if not SHARED_CSV.is_file():
        pytest.skip(f"needs the project's shared data at {SHARED_CSV} (absent on this machine)")
    with open(SHARED_CSV, newline="", encoding="utf-8") as handle:
        shared = [parse_row(row) for row in csv.DictReader(handle)]
    shipped = published()
    assert shipped.rows == shared and len(shipped.rows) == 15
    assert "multimodal-art-projection/YuE" in shipped.source and "docs/benchmark-results.csv" in shipped.source
    assert "e76a8753" in shipped.source
    yue1 = next(row for row in shipped.rows if row["system"] == "YuE 1")
    assert (round(yue1["audiobox_pq"], 2), round(yue1["mulan"], 3), round(yue1["per"], 3)) == (7.87, 0.262, 0.364)


def test_our_means_over_metrics_csv_rows(tmp_path):
    """Means over the songs that have a value; a failed song counts in no mean; SongEval's average needs all five."""
    metrics = tmp_path / "metrics.csv"
    songeval = {f"songeval_{k}": v for k, v in zip(
        ["coherence", "memorability", "naturalness", "clarity", "musicality"], [3, 4, 5, 2, 1])}
    rows = [{"song": "a", "audiobox_pq": 7.0, "per": 0.25, "mulan": 0.3, "clap_score": 0.1, **songeval},
            {"song": "b", "audiobox_pq": 8.0, "per": "", "mulan": 0.5, "songeval_coherence": 4},
            {"song": "c", "error": "generate: out of memory", "audiobox_pq": 1.0}]
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(metrics, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    ours = our_row(read_metrics_csv(metrics), "songforge sketch")
    assert ours["n"] == 2
    assert ours["audiobox_pq"] == pytest.approx(7.5) and ours["mulan"] == pytest.approx(0.4)
    assert ours["per"] == pytest.approx(0.25) and ours["clap_score"] == pytest.approx(0.1)
    assert ours["songeval_global_avg"] == pytest.approx(3.0)  # song b lacks four of the five
    assert ours["songbench_global_avg"] is None


def test_the_table_has_our_row_first_then_every_published_row_and_the_reasons(tmp_path):
    from songforge.bench.songs import Untaken

    (tmp_path / "metrics.csv").write_text("song,audiobox_pq,per\na,7.5,0.2\n")
    result = BenchResult(system="songforge sketch", prompts="wsb.jsonl", total_prompts=2,
                         untaken=[Untaken(id="2", reason="language: 'fr' is not one of en, zh")],
                         not_measured={"mulan": "model muq-mulan not pulled (songforge models pull muq-mulan)"},
                         failed={"wsb-009": "generate: boom"}, notes=["takes: made once"])
    table = write_bench(tmp_path, result, published())
    text = (tmp_path / "wildsongbench.md").read_text()
    assert text == table["markdown"]
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| **songforge sketch** | 1 |") and "7.500" in lines[1] and "20.0 %" in lines[1]
    assert len(lines) == 1 + 1 + 15 and "| YuE 1 | 192 |" in text
    assert "- MuLan: model muq-mulan not pulled (songforge models pull muq-mulan)" in text and "- 2: language" in text and "wsb\\-009" in text
    with open(tmp_path / "wildsongbench.csv", newline="") as handle:
        shipped = list(csv.DictReader(handle))
    assert [row["system"] for row in shipped][:2] == ["songforge sketch", "YuE2"]
    assert float(shipped[0]["per"]) == pytest.approx(0.2) and shipped[0]["source"] == "songforge"
    assert (tmp_path / "wildsongbench-untaken.csv").read_text().startswith("prompt,reason\n2,")
    assert markdown(table_rows(our_row([], "x"), published()), result, published()).count("\n| **x** | 0 |") == 1


def test_the_published_table_is_package_data_of_an_installed_songforge():
    """pyproject's package-data patterns take every file of songforge/data/bench into a wheel."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["songforge"]
    files = [p.relative_to(root / "songforge").as_posix() for p in (root / "songforge" / "data" / "bench").iterdir()]
    assert files and all(any(fnmatch.fnmatch(f, pattern) for pattern in patterns) for f in files), (files, patterns)


def test_the_text_judges_hold_the_master_against_the_prompts_own_style_text(tmp_path):
    rows = [{"prompt_index": 0, "style": "Upbeat pop with a female vocal and bright synths", "lyrics": LYRICS}]
    made = bench_album(read_prompts(write_jsonl(tmp_path / "wsb.jsonl", rows)), "sketch", "WSB sketch",
                       {"clap": {}, "mulan": {"text": "given"}})
    song = made.album.songs[0]
    assert song.steps["clap"].text == "Upbeat pop with a female vocal and bright synths"  # not the tags drawn from it
    assert song.style != song.steps["clap"].text and song.steps["mulan"].text == "given"  # a text given is kept
