"""The plan's shape, proven through the flows: a plugin step (tests/plugins/songforge_gain.py, one module and one
registration) runs in the album flow and in a sweep, cached, shown and tracked; a plugin engine's model steps
(tests/plugins/songforge_toy.py) never overlap on one GPU. A real Prefect API and a real MLflow sqlite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from songforge.album_file import load_album
from songforge.audio.io import read_audio
from songforge.audio.loudness import integrated_lufs
from songforge.registry import register_step

pytestmark = pytest.mark.slow
PLUGINS = Path(__file__).resolve().parent / "plugins"
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"


@pytest.fixture
def gain_step(monkeypatch):
    """The plugin's gain step, registered for this test only (importing the module registers it once per process)."""
    from songforge import registry

    monkeypatch.syspath_prepend(str(PLUGINS))
    import songforge_gain

    register_step(songforge_gain.STEP)
    yield songforge_gain.STEP
    registry._steps.pop("gain", None)


def write_album(folder: Path, songs: list[dict], **album) -> Path:
    path = folder / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Plan Proof", "songs": songs, **album}))
    return path


def task_run_states(flow_result_state, name: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId, TaskRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(like_=name), flow_run_id=TaskRunFilterFlowRunId(
                any_=[flow_result_state.state_details.flow_run_id])))
    return [run.state.name for run in runs]


def test_a_plugin_step_runs_in_the_album_flow_cached_shown_and_tracked(gain_step, prefect_api, tmp_path):
    from mlflow import MlflowClient

    from flows.album import album_flow
    from flows.song import stages_of

    album = load_album(write_album(tmp_path, [{"title": "One", "lyrics": LYRICS, "duration_s": 10}]))
    assert stages_of(album.songs[0], album) == ("lyrics", "generate", "mix", "gain", "master", "measure", "flags",
                                                "plots", "track")  # what the CLI's progress bar counts
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    song = Path(result["folders"][0])
    mix, rate = read_audio(song / "mix.wav")
    gained, _ = read_audio(song / "gain.wav")
    assert integrated_lufs(gained, rate) == pytest.approx(integrated_lufs(mix, rate) - 3.0, abs=0.05)
    master = json.loads((song / "manifest.json").read_text())["outputs"]
    assert master["gain"]["mix"]["path"] == "gain.wav"  # the manifest knows the step and its file
    assert task_run_states(first, "gain-01-one") == ["Completed"]

    client = MlflowClient(uri)
    child = client.search_runs([client.get_run(result["mlflow_run_id"]).info.experiment_id],
                               f"tags.mlflow.parentRunId = '{result['mlflow_run_id']}'")[0]
    assert "gain.wav" in {artifact.path for artifact in client.list_artifacts(child.info.run_id)}
    assert "after the gain" in Path(result["report"]).read_text()  # the review page plays it

    made = (song / "gain.wav").stat().st_mtime_ns
    again = album_flow(album, out, uri, return_state=True)
    assert task_run_states(again, "gain-01-one") == ["Cached"] and (song / "gain.wav").stat().st_mtime_ns == made


def test_a_plugin_step_runs_for_every_take_of_a_sweep(gain_step, prefect_api, tmp_path):
    from flows.sweep import sweep_flow
    from songforge.sweep import load_sweep

    write_album(tmp_path, [{"title": "One", "lyrics": LYRICS, "duration_s": 10}])
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({"name": "gains", "album": "album.yaml", "seeds": [1, 2]}))
    result = sweep_flow(load_sweep(tmp_path / "sweep.yaml"), str(tmp_path / "out"), f"sqlite:///{tmp_path / 'm.db'}")
    takes = sorted(Path(result["folder"]).glob("*/01-one"))
    assert len(takes) == 2 and all((take / "gain.wav").is_file() for take in takes)


@pytest.mark.parametrize("slots", [1, 3])
def test_a_plugin_engines_model_steps_never_overlap_on_one_gpu(prefect_api, tmp_path, monkeypatch, slots):
    """With one GPU slot the three songs' render steps take turns; with three (the control) they overlap."""
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.album import album_flow

    monkeypatch.syspath_prepend(str(PLUGINS))
    import songforge_toy  # noqa: F401  (registers the toy engine)

    log = tmp_path / "render.log"
    for name, value in {"TOY_ENGINE_LOG": str(log), "TOY_HOLD_S": "1.5", "SONGFORGE_GPU_SLOTS": str(slots),
                        "SONGFORGE_GPU_LOCKS": str(tmp_path / "gpu")}.items():
        monkeypatch.setenv(name, value)
    songs = [{"title": f"Toy {n}", "lyrics": LYRICS, "seed": n, "engine": {"name": "toy"}} for n in range(3)]
    album = load_album(write_album(tmp_path, songs))
    every_step_at_once = album_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=32))
    result = every_step_at_once(album, str(tmp_path / "out"), f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not result["failed"] and all((Path(folder) / "score.json").is_file() for folder in result["folders"])
    spans = sorted((entry["start"], entry["end"]) for entry in map(json.loads, log.read_text().splitlines()))
    assert len(spans) == 3
    apart = all(later[0] >= earlier[1] - 0.01 for earlier, later in zip(spans, spans[1:]))
    assert apart == (slots == 1), spans
