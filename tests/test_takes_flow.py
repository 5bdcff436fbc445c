"""Takes chosen by quality through the real album flow (a real Prefect API, a real MLflow sqlite store, the sketch
engine): every take made under takes/<nn>/ with its seed as songforge.takes documents, the best by the song's
rule kept as the song, a flagged take never kept, retakes drawn while every take is flagged; a rerun is all
cached, and another rule re-chooses without making any take again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.artifacts import file_sha256
from songforge.registry import register_step
from songforge.takes import take_seed

pytestmark = pytest.mark.slow
PLUGINS = Path(__file__).resolve().parent / "plugins"
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"


@pytest.fixture
def flag_step(monkeypatch):
    from songforge import registry

    monkeypatch.syspath_prepend(str(PLUGINS))
    import songforge_flagtake

    register_step(songforge_flagtake.STEP)
    yield songforge_flagtake.STEP
    registry._steps.pop("flagtake", None)


def write_album(folder: Path, rule: list) -> Path:
    path = folder / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Takes", "defaults": {"duration_s": 10, "lyrics": LYRICS}, "songs": [
        {"title": "Three", "seed": 5, "takes": 3, "select": rule},
        # its one take is flagged: the retake round draws take 2, with a new seed, which is kept
        {"title": "Again", "seed": 7, "takes": 1, "retakes": 1, "select": rule,
         "flagtake": {"seeds": [take_seed(7, 0)]}},
        # its first take's step fails: the song is its other take, not a failed song
        {"title": "Crash", "seed": 9, "takes": 2, "select": rule, "flagtake": {"crash": [9]}}]}))
    return path


def test_takes_are_made_chosen_by_the_rule_kept_and_cached(flag_step, prefect_api, tmp_path):
    from mlflow import MlflowClient

    from flows.album import album_flow

    from flows.progress import listener
    from flows.song import stages_of

    album = load_album(write_album(tmp_path, [{"max": "bandwidth_hz"}, {"min": "lufs"}]))
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    heard: set[tuple[str, str]] = set()
    token = listener.set(lambda song, stage, failed=None: heard.add((song, stage)))
    try:
        first = album_flow(album, out, uri, return_state=True)
    finally:
        listener.reset(token)
    for song in album.songs:  # the progress bar reaches its total: takes share some steps' futures
        assert {(song.title, stage) for stage in stages_of(song, album)} <= heard, song.title
    result = first.result()
    assert not result["failed"], result
    three, again, crash = (Path(folder) for folder in result["folders"])

    record = json.loads((three / "takes.json").read_text())
    takes = [json.loads((three / "takes" / f"{n:02d}" / "metrics.json").read_text()) for n in (1, 2, 3)]
    seeds = [json.loads((three / "takes" / f"{n:02d}" / "take.json").read_text())["seed"] for n in (1, 2, 3)]
    assert seeds == [5, take_seed(5, 1), take_seed(5, 2)] and len(set(seeds)) == 3
    unflagged = [i for i in range(3) if not record["takes"][i]["flags"]]  # were the flags step to flag one
    ranked = sorted(unflagged, key=lambda i: (-takes[i]["bandwidth_hz"], takes[i]["lufs"]))
    assert record["kept"] == ranked[0] and record["rule"] == "max:bandwidth_hz,min:lufs"
    assert record["reason"].startswith(f"take {ranked[0] + 1}: highest bandwidth_hz")
    kept = three / "takes" / f"{ranked[0] + 1:02d}"
    assert file_sha256(three / "master.wav") == file_sha256(kept / "master.wav")
    assert json.loads((three / "metrics.json").read_text()) == takes[ranked[0]]
    assert json.loads((three / "manifest.json").read_text())["inputs"]  # the song's lineage, as today

    chosen = json.loads((again / "takes.json").read_text())
    assert chosen["kept"] == 1 and [t["seed"] for t in chosen["takes"]] == [7, take_seed(7, 1)]
    assert chosen["takes"][0]["flags"] == ["test_silence"] and "take 1 flagged: test_silence" in chosen["reason"]
    assert json.loads((again / "take.json").read_text())["seed"] == take_seed(7, 1)
    survived = json.loads((crash / "takes.json").read_text())
    assert survived["kept"] == 1 and "take 1 failed: flagtake: RuntimeError" in survived["reason"]
    assert "seed 9" in survived["takes"][0]["error"] and survived["takes"][1]["error"] is None

    runs = {run.info.run_name: run for run in MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_run(result["mlflow_run_id"]).info.experiment_id])}
    assert runs["Three"].data.params["seed"] == str(seeds[ranked[0]])
    assert runs["Again"].data.params["seed"] == str(take_seed(7, 1))
    page = Path(result["report"]).read_text()
    assert "takes/01/master" in page and "take 1 flagged: test_silence" in page

    again_state = album_flow(album, out, uri, return_state=True)
    for name in ("generate-01", "master-01", "measure-01", "takes-", "track-"):
        states = task_run_states(again_state, f"{name}%")
        assert states and set(states) == {"Cached"}, (name, states)

    other = load_album(write_album(tmp_path, [{"min": "bandwidth_hz"}]))
    third = album_flow(other, out, uri, return_state=True)
    assert set(task_run_states(third, "generate-%")) == {"Cached"}
    low = min(unflagged, key=lambda i: takes[i]["bandwidth_hz"])
    assert json.loads((three / "takes.json").read_text())["kept"] == low
    assert file_sha256(three / "master.wav") == file_sha256(three / "takes" / f"{low + 1:02d}" / "master.wav")
