"""YuE's stage 1 for many songs or seeds at once, on tiny random-weight models (CPU).

A batch must give every take the codes it gets alone, land each take in its own song folder,
and on a rerun decode only the takes whose inputs changed. Through the album and sweep flows
(a real Prefect API, a real MLflow sqlite store), songs that share their stage-1 settings run
as one batch task.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from songforge.album_file import load_album
from songforge.engine.yue import engine as E
from songforge.engine.yue.steps import Stage1Take, finished_stage1, run_stage1, stage1_batch
from songforge.engine.yue.tokens import load_codes

from test_yue_engine import LYRICS, models, song  # noqa: F401  (models: the tiny models fixture)

OTHER_LYRICS = "[verse]\nMorning comes in slowly\nPaint the sky in gold\n\n[outro]\nGold\n"


def stage1_params(**params):
    return E.resolve_memory(song(**params).engine.params).stage1()


def take(style: str, lyrics: str, seed: int, p, model: str = "tiny-s1") -> Stage1Take:
    return Stage1Take(style=style, lyrics=lyrics, seed=seed, settings=p, model_identity=model)


def codes(output) -> tuple[np.ndarray, np.ndarray]:
    return load_codes(output.path("vtrack")), load_codes(output.path("itrack"))


@pytest.fixture
def decoded(monkeypatch) -> list[int]:
    """How many takes each call of the engine's stage 1 decodes (a spy: the real function runs)."""
    calls: list[int] = []
    real = E.stage1_takes

    def spy(takes, p, progress=None, on_take=None):
        calls.append(len(takes))
        return real(takes, p, progress, on_take)

    monkeypatch.setattr(E, "stage1_takes", spy)
    return calls


def test_a_batch_gives_each_take_its_own_codes_and_redoes_only_what_changed(models, tmp_path, decoded):
    p = stage1_params()
    takes = [(take("pop", LYRICS, 3, p), tmp_path / "01-a"), (take("rock male", OTHER_LYRICS, 3, p), tmp_path / "02-b"),
             (take("pop", LYRICS, 4, p), tmp_path / "03-c")]
    batch = stage1_batch(takes)
    assert decoded == [3]
    for (one, folder), out in zip(takes, batch):
        assert out.path("vtrack") == folder / "yue" / "stage1" / f"{folder.name}_vtrack.npy"
        alone = run_stage1(one, {}, tmp_path / "alone" / folder.name)
        assert all(np.array_equal(a, b) for a, b in zip(codes(out), codes(alone)))
    assert not np.array_equal(codes(batch[0])[0], codes(batch[2])[0])  # another seed, another take
    assert decoded == [3, 1, 1, 1]

    files = [out.path(track) for out in batch for track in ("vtrack", "itrack")]
    before = {path: path.stat().st_mtime_ns for path in files}
    again = stage1_batch(takes[:2] + [(takes[2][0].model_copy(update={"seed": 5}), takes[2][1])])
    assert decoded[4:] == [1]  # only the take whose seed changed
    assert [before[path] == path.stat().st_mtime_ns for path in files] == [True, True, True, True, False, False]
    assert again[0].fingerprint() == batch[0].fingerprint()

    np.save(batch[1].path("vtrack"), np.zeros((1, 3), dtype=np.uint32))  # a take's codes changed by hand
    redone = stage1_batch(takes[:2])
    assert decoded[5:] == [1] and redone[1].fingerprint() == batch[1].fingerprint()
    other_model = takes[1][0].model_copy(update={"model_identity": "another-model"})
    assert finished_stage1(other_model, takes[1][1]) is None  # another model: not this take's codes


def test_batch_size_splits_the_takes_without_changing_their_codes(models):
    takes = [E.Take("pop", LYRICS, 3), E.Take("rock", OTHER_LYRICS, 8), E.Take("pop", LYRICS, 9)]
    together = E.stage1_takes(takes, stage1_params())
    in_pairs = E.stage1_takes(takes, stage1_params(stage1_batch_size=2))
    assert all(np.array_equal(a, b) for pair_a, pair_b in zip(together, in_pairs) for a, b in zip(pair_a, pair_b))


def test_takes_of_finished_batches_survive_a_later_batch_failing(models, tmp_path, monkeypatch, decoded):
    """The second of three one-take batches fails (an injected out-of-memory error, as CUDA would raise):
    the first take's codes are already in its folder, and the rerun decodes only the other two."""
    import torch

    from songforge.engine.yue import stage1

    real, calls = stage1.run_stage1_takes, []

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise torch.OutOfMemoryError("CUDA out of memory (injected by the test)")
        return real(*args, **kwargs)

    monkeypatch.setattr(stage1, "run_stage1_takes", fail_second)
    p = stage1_params(stage1_batch_size=1)
    takes = [(take("pop", LYRICS, seed, p), tmp_path / f"0{seed}-take") for seed in (1, 2, 3)]
    with pytest.raises(torch.OutOfMemoryError):
        stage1_batch(takes)
    assert [finished_stage1(one, folder) is not None for one, folder in takes] == [True, False, False]
    stage1_batch(takes)
    assert decoded == [3, 2]


# --- through the flows ---------------------------------------------------------------------------------

def yue_album(folder: Path, seeds: tuple[int, ...] = (7, 7, 8), **params) -> Path:
    engine = {"name": "yue", "params": {"max_new_tokens": 40, "min_new_tokens": 0, **params}}
    lyrics = (LYRICS, OTHER_LYRICS, LYRICS)
    spec = {"title": "Batched", "songs": [
        {"title": f"Song {n}", "lyrics": text, "genre": ["pop"], "seed": seed, "bpm": 120, "key": "C major",
         "engine": engine} for n, (text, seed) in enumerate(zip(lyrics, seeds), start=1)]}
    path = folder / "album.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def engine_task_runs(flow_state) -> dict[str, list[str]]:
    """Task-run names of one flow run by task, for the engine steps, as the Prefect API lists them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(
            any_=[flow_state.state_details.flow_run_id])))
    names: dict[str, list[str]] = {}
    for run in runs:  # named '<step>-<song folder>', a batch '<step>-batch-<n>-takes-from-<folder>'
        task = "yue_stage1_batch" if "-batch-" in run.name else next(
            (step.replace("-", "_") for step in ("yue-stage1", "yue-stage2", "yue-decode") if run.name.startswith(step)),
            None)
        if task:
            names.setdefault(task, []).append(run.name)
    return {task: sorted(found) for task, found in names.items()}


@pytest.mark.slow
def test_album_songs_share_one_stage1_batch_and_a_rerun_decodes_only_the_changed_song(models, prefect_api,
                                                                                       tmp_path, decoded):
    from flows.album import album_flow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    state = album_flow(load_album(yue_album(tmp_path)), str(tmp_path / "out"), uri, return_state=True)
    assert state.is_completed(), state
    runs = engine_task_runs(state)
    assert runs["yue_stage1_batch"] == ["yue-stage1-batch-3-takes-from-01-song-1"]
    assert len(runs["yue_stage1"]) == 3 and len(runs["yue_stage2"]) == 3
    assert decoded == [3]  # the songs' own stage-1 tasks found their codes in their folders

    folders = sorted((tmp_path / "out" / "batched").glob("0*-song-*"))
    batched = {f.name: [load_codes(p) for p in sorted((f / "yue" / "stage1").glob("*.npy"))] for f in folders}
    alone = album_flow(load_album(yue_album(tmp_path, stage1_batch_size=1)), str(tmp_path / "alone"), uri,
                       return_state=True)
    assert "yue_stage1_batch" not in engine_task_runs(alone) and decoded[1:] == [1, 1, 1]
    for name, got in batched.items():
        want = [load_codes(p) for p in sorted((tmp_path / "alone" / "batched" / name / "yue" / "stage1").glob("*.npy"))]
        assert all(np.array_equal(a, b) for a, b in zip(got, want)), name

    stage1_files = {p: p.stat().st_mtime_ns for f in folders for p in (f / "yue" / "stage1").glob("*.npy")}
    album_flow(load_album(yue_album(tmp_path, seeds=(7, 9, 8))), str(tmp_path / "out"), uri)
    assert decoded[4:] == [1]  # a new batch of the three songs decodes only song 2, whose seed changed
    changed = sorted({p.parent.parent.parent.name for p, mtime in stage1_files.items() if p.stat().st_mtime_ns != mtime})
    assert changed == ["02-song-2"]


@pytest.mark.slow
def test_a_failed_batch_leaves_each_song_to_decode_alone(models, prefect_api, tmp_path, monkeypatch):
    """A GPU running out of memory mid-batch cannot happen here: the test makes every batch of more than
    one take raise torch's OutOfMemoryError, as CUDA would, and the songs must still all be made."""
    import torch

    from flows.album import album_flow

    real, sizes = E.stage1_takes, []

    def out_of_memory_when_batched(takes, p, progress=None, on_take=None):
        sizes.append(len(takes))
        if len(takes) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected by the test)")
        return real(takes, p, progress, on_take)

    monkeypatch.setattr(E, "stage1_takes", out_of_memory_when_batched)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = album_flow(load_album(yue_album(tmp_path)), str(tmp_path / "out"), uri)
    assert not result["failed"] and len(result["songs"]) == 3
    assert sizes == [3, 1, 1, 1]


@pytest.mark.slow
def test_a_seed_sweep_decodes_its_takes_in_one_batch(models, prefect_api, tmp_path, decoded):
    from mlflow import MlflowClient

    from flows.sweep import sweep_flow
    from songforge.sweep import load_sweep

    album = yue_album(tmp_path)
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({"name": "seeds", "album": album.name,
                                                         "songs": ["Song 1"], "seeds": [1, 2, 3]}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    state = sweep_flow(load_sweep(tmp_path / "sweep.yaml"), str(tmp_path / "out"), uri, return_state=True)
    assert state.is_completed(), state
    assert decoded == [3]
    runs = engine_task_runs(state)
    assert len(runs["yue_stage1_batch"]) == 1 and len(runs["yue_stage1"]) == 3
    result = state.result()
    assert sorted(int(row["seed"]) for row in result["rows"]) == [1, 2, 3]
    children = MlflowClient(uri).search_runs([MlflowClient(uri).get_run(result["mlflow_run_id"]).info.experiment_id],
                                             f"tags.mlflow.parentRunId = '{result['mlflow_run_id']}'")
    assert len(children) == 3 and all(child.info.status == "FINISHED" for child in children)
