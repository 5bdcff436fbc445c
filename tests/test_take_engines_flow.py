"""Takes by two engines through the real album flow (a real Prefect API, a real MLflow sqlite store): one song's
lyrics made by the sketch engine and by a tiny random MusicGen (tests/musicgen_tiny.py; never the real model), each
take by its own engine's plan under takes/<nn>/, both measured, the better one by the song's rule kept, takes.json
naming each take's engine; a rerun is all cached, and another rule re-chooses without making any take again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from musicgen_tiny import RATE, write_musicgen
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.artifacts import file_sha256
from songforge.audio.io import read_audio
from songforge.takes import take_seed

pytestmark = pytest.mark.slow
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"


def write_album(folder: Path, model: Path, rule: list) -> Path:
    path = folder / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Two engines", "songs": [{
        "title": "Hill", "lyrics": LYRICS, "seed": 4, "duration_s": 10, "genre": ["pop"], "instrument": ["piano"],
        "take_engines": [{"name": "sketch"}, {"name": "musicgen", "params": {"model": str(model)}}],
        "select": rule}]}))
    return path


def test_a_song_made_by_two_engines_keeps_the_take_its_rule_picks_and_is_cached_on_rerun(prefect_api, tmp_path,
                                                                                     monkeypatch):
    from flows.album import album_flow
    from flows.song import stages_of

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    model = write_musicgen(tmp_path / "models" / "tiny-musicgen")
    album = load_album(write_album(tmp_path, model, [{"max": "bandwidth_hz"}, {"min": "lufs"}]))
    stages = stages_of(album.songs[0], album)
    assert "take01/generate" in stages and "take02/musicgen-render" in stages  # each take by its engine's plan
    assert "take02/generate" not in stages and "take01/musicgen-render" not in stages

    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    song = Path(result["folders"][0])
    facts = [json.loads((song / "takes" / f"{n:02d}" / "take.json").read_text()) for n in (1, 2)]
    assert facts[0]["engine"].startswith("sketch") and facts[0]["seed"] == 4
    assert facts[1]["engine"].startswith("musicgen-v1:") and facts[1]["seed"] == take_seed(4, 1)
    assert read_audio(song / "takes" / "02" / "stems" / "instrumental.wav")[1] == RATE  # MusicGen's own rate
    measured = [json.loads((song / "takes" / f"{n:02d}" / "metrics.json").read_text()) for n in (1, 2)]
    assert all(isinstance(m["bandwidth_hz"], float) and isinstance(m["lufs"], float) for m in measured)

    record = json.loads((song / "takes.json").read_text())
    assert [t["engine"] for t in record["takes"]] == ["sketch", "musicgen"]
    unflagged = [i for i in range(2) if not record["takes"][i]["flags"]]
    assert unflagged == [0, 1], record  # both takes can be kept: the rule decides between the engines
    best = min(unflagged, key=lambda i: (-measured[i]["bandwidth_hz"], measured[i]["lufs"]))
    assert record["kept"] == best and record["rule"] == "max:bandwidth_hz,min:lufs"
    assert record["reason"].startswith(f"take {best + 1} ({['sketch', 'musicgen'][best]}): highest bandwidth_hz")
    assert file_sha256(song / "master.wav") == file_sha256(song / "takes" / f"{best + 1:02d}" / "master.wav")
    assert json.loads((song / "take.json").read_text())["seed"] == facts[best]["seed"]
    page = Path(result["report"]).read_text()  # the review page: both takes side by side, each naming its engine
    assert "<strong>take 1 (sketch)</strong>" in page and "<strong>take 2 (musicgen)</strong>" in page
    assert "sketch + musicgen engines" in page
    assert "takes/01/master" in page and "takes/02/master" in page
    from mlflow.tracking import MlflowClient

    from tasks.track import EXPERIMENT

    client = MlflowClient(uri)
    run, = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id],
                              "tags.`songforge.kind` = 'song'")
    assert run.data.params["engine"] == ["sketch", "musicgen"][best]  # the kept take's, not take_engines[0]
    assert run.data.params["take_engines"] == "sketch, musicgen" and run.data.params["seed"] == str(facts[best]["seed"])

    again = album_flow(album, out, uri, return_state=True)
    for name in ("generate-", "musicgen-render-", "master-", "measure-", "takes-", "track-"):
        states = task_run_states(again, f"{name}%")
        assert states and set(states) == {"Cached"}, (name, states)

    other = load_album(write_album(tmp_path, model, [{"min": "bandwidth_hz"}]))
    third = album_flow(other, out, uri, return_state=True)
    assert set(task_run_states(third, "generate-%")) == {"Cached"}
    assert set(task_run_states(third, "musicgen-render-%")) == {"Cached"}
    low = min(unflagged, key=lambda i: measured[i]["bandwidth_hz"])
    assert low != best  # the other engine's take, now kept
    assert json.loads((song / "takes.json").read_text())["kept"] == low
    assert file_sha256(song / "master.wav") == file_sha256(song / "takes" / f"{low + 1:02d}" / "master.wav")
