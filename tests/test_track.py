"""TrackedRun.is_intact on a real MLflow sqlite store: the fast read-only path agrees with MLflow's client."""

from mlflow import MlflowClient

from tasks.track import TrackedRun, _UNKNOWN, _sqlite_lifecycle


def test_a_cached_run_is_trusted_until_deleted_or_wiped(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("x")).info.run_id
    tracked = TrackedRun(uri, run_id)
    assert _sqlite_lifecycle(uri, run_id) == client.get_run(run_id).info.lifecycle_stage == "active"
    assert tracked.is_intact()
    assert not TrackedRun(uri, "0" * 32).is_intact()
    client.delete_run(run_id)
    assert _sqlite_lifecycle(uri, run_id) == "deleted" and not tracked.is_intact()
    (tmp_path / "mlflow.db").unlink()
    assert not tracked.is_intact()


def test_other_stores_defer_to_mlflows_client(tmp_path):
    assert _sqlite_lifecycle("http://127.0.0.1:5000", "abc") is _UNKNOWN
    (tmp_path / "junk.db").write_text("not a database")
    assert _sqlite_lifecycle(f"sqlite:///{tmp_path / 'junk.db'}", "abc") is _UNKNOWN
