"""The stage cache's store on a real Prefect API: forged records never run, vanished files always recompute,
input files count by content, and two runs of one stage at once compute it once."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cloudpickle
import pytest
from prefect import flow

from songforge.artifacts import StageOutput, output
from songforge.params import MasterSpec
from songforge.paths import write_text
from tasks.cache import StageCache, stage_task
from tasks.locks import StageLocks
from tasks.results import RefusedRecord, _keys, _store, read_result

CALLS: list[str] = []
MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / f"songforge-forged-record-ran-{os.getpid()}"


@stage_task("test-store-echo")
def echo(text: str, song_dir: Path) -> StageOutput:
    CALLS.append(text)
    return output("test-store-echo", {"text": text}, echo=write_text(song_dir / "echo.txt", text))


@stage_task("test-store-master")
def fake_master(spec: MasterSpec, song_dir: Path) -> StageOutput:
    CALLS.append("master")
    return output("test-store-master", master=write_text(song_dir / "master.txt", spec.reference.read_text()))


@flow
def one_echo(text: str, folder: str) -> str:
    return echo(text, Path(folder), return_state=True).name


@flow
def one_master(spec: MasterSpec, folder: str) -> str:
    return fake_master(spec, Path(folder), return_state=True).name


def _touch_marker(*_args):
    """What a forged record would run if it were ever deserialized: it leaves a marker file."""
    MARKER.touch()
    return {}


class _Payload:
    def __reduce__(self):
        return (_touch_marker, ())


def _key_of(text: str, folder: Path) -> str:
    return StageCache(stage="test-store-echo").compute_key(None, {"text": text, "song_dir": folder}, {})


@flow
def rebuild_deleted_folder(text: str, folder: str, times: int) -> list[tuple[str, str]]:
    """Make the step, hit its cache, delete its folder; `times` over, in one flow run (the store is the same)."""
    states = []
    for _ in range(times):
        made = echo(text, Path(folder), return_state=True).name
        assert (Path(folder) / "echo.txt").read_text() == text
        states.append((made, echo(text, Path(folder), return_state=True).name))
        for file in Path(folder).iterdir():
            file.unlink()
        Path(folder).rmdir()
    return states


def test_a_cached_step_whose_files_vanish_is_recomputed_every_time(prefect_api, tmp_path):
    """25 rebuilds of a deleted out folder: every one recomputes (there is no limit on how often)."""
    CALLS.clear()
    states = rebuild_deleted_folder("hello", str(tmp_path / "out" / "song"), 25)
    assert states == [("Completed", "Cached")] * 25
    assert CALLS == ["hello"] * 25


def test_forged_pickle_and_json_records_never_run_and_the_step_recomputes(prefect_api, tmp_path):
    MARKER.unlink(missing_ok=True)
    CALLS.clear()
    store, keys = _store(), _keys()
    pickled = base64.encodebytes(cloudpickle.dumps(_Payload()))
    forgeries = {
        "pickle": ({"type": "pickle", "picklelib": "cloudpickle"}, pickled),
        # Prefect's JSON serializer calls whatever object decoder the record names.
        "json": ({"type": "json", "jsonlib": "json", "object_decoder": f"{__name__}._touch_marker",
                  "object_encoder": "prefect.serializers.prefect_json_object_encoder", "dumps_kwargs": {},
                  "loads_kwargs": {}}, b'{"a": 1}'),
    }
    for name, (serializer, payload) in forgeries.items():
        folder = tmp_path / name
        key = _key_of(name, folder)
        result_path = f"forged-{name}-{tmp_path.name}"
        store.write_path(result_path, payload, _sync=True)
        keys.write_path(key, json.dumps({"storage_key": result_path, "serializer": serializer}).encode(), _sync=True)
        assert one_echo(name, str(folder)) == "Completed"  # read as absent, so the stage ran again
        assert (folder / "echo.txt").read_text() == name
        assert one_echo(name, str(folder)) == "Cached"  # its fresh record replaced the forged one
    assert CALLS == ["pickle", "json"]
    assert not MARKER.exists(), "a forged record was deserialized"


def test_forged_song_results_are_refused_by_the_song_result_reader(prefect_api, tmp_path):
    MARKER.unlink(missing_ok=True)
    pickled = base64.encodebytes(cloudpickle.dumps(_Payload()))
    whole = {"metadata": {"serializer": {"type": "pickle", "picklelib": "cloudpickle"}, "storage_key": "x"},
             "result": pickled.decode()}
    ours_naming_code = {"schema": "songforge-result/1", "value": {"$record": "os.system", "command": "x"}}
    for name, content, why in [("pickle", pickled, "does not parse"), ("record", json.dumps(whole).encode(), "schema"),
                               ("code", json.dumps(ours_naming_code).encode(), "does not store")]:
        _store().write_path(f"forged-flow-{name}-{tmp_path.name}", content, _sync=True)
        with pytest.raises(RefusedRecord, match=why):
            read_result(f"forged-flow-{name}-{tmp_path.name}")
    assert not MARKER.exists()


def test_a_reference_replaced_at_the_same_path_is_a_new_input(prefect_api, tmp_path):
    CALLS.clear()
    reference = tmp_path / "reference.txt"
    reference.write_text("first mastering reference")
    spec = MasterSpec.model_construct(reference=reference)  # a text file stands in for audio: only keys matter here
    assert one_master(spec, str(tmp_path / "song")) == "Completed"
    assert one_master(spec, str(tmp_path / "song")) == "Cached"
    reference.write_text("a different reference, same path")
    assert one_master(spec, str(tmp_path / "song")) == "Completed"
    assert (tmp_path / "song" / "master.txt").read_text() == "a different reference, same path"
    assert CALLS == ["master", "master"]


SLOW_STAGE = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from prefect import flow
    from songforge.artifacts import output
    from songforge.paths import write_text
    from tasks.cache import stage_task

    @stage_task("test-store-slow")
    def slow(text, song_dir):
        with open(song_dir.parent / "calls.log", "a") as log:
            log.write(text + "\\n")
        time.sleep(3)
        return output("test-store-slow", slow=write_text(song_dir / "slow.txt", text))

    @flow
    def run(folder):
        return slow("same", Path(folder), return_state=True).name

    print("STATE", run(sys.argv[1]))
''')


def test_two_runs_of_the_same_stage_at_once_compute_it_once(prefect_api, tmp_path):
    script = tmp_path / "slow_stage.py"
    script.write_text(SLOW_STAGE)
    folder = tmp_path / "out" / "song"
    folder.mkdir(parents=True)
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    runs = [subprocess.Popen([sys.executable, str(script), str(folder)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    states = sorted(line.split()[-1] for out in outputs for line in out.splitlines() if line.startswith("STATE"))
    assert states == ["Cached", "Completed"], outputs
    assert (tmp_path / "out" / "calls.log").read_text().splitlines() == ["same"]


HOLDER = textwrap.dedent('''
    import sys, time
    from tasks.locks import StageLocks
    StageLocks().acquire_lock(sys.argv[1], holder="killed-holder")
    print("HELD", flush=True)
    time.sleep(600)
''')


def test_a_lock_left_by_a_killed_run_expires_and_a_live_holder_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_STAGE_LOCKS", str(tmp_path / "locks"))
    monkeypatch.setenv("SONGFORGE_STAGE_LOCK_LEASE_S", "1")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, "key-a"], env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "HELD"
    locks = StageLocks()
    assert not locks.acquire_lock("key-a", "waiter", acquire_timeout=2.5)  # alive and renewing: still held
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    assert locks.acquire_lock("key-a", "waiter", acquire_timeout=10)  # its lease ran out
    assert time.monotonic() - started < 3
    assert locks.is_lock_holder("key-a", "waiter")
    locks.release_lock("key-a", "waiter")
    assert not locks.is_locked("key-a")


def test_a_failed_steps_exception_is_stored_as_its_name_and_message():
    from songforge.errors import EngineError
    from tasks.results import ResultJSON, StoredError

    stored = ResultJSON().loads(ResultJSON().dumps(EngineError("the model fell over")))
    assert isinstance(stored, StoredError)
    assert str(stored) == "songforge.errors.EngineError: the model fell over"
