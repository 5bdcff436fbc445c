"""The CLI's MLflow link opens the runs page of the installed MLflow UI (its route must exist in that UI's bundle)."""

from pathlib import Path

import mlflow


def test_the_runs_page_route_exists_in_the_installed_mlflow_ui(tmp_path):
    from mlflow import MlflowClient

    from tasks.track import TrackedRun, runs_page

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("songforge", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(experiment)
    page = runs_page(TrackedRun(uri, run.info.run_id))
    assert page.startswith(f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{run.info.run_id} ")
    assert f"mlflow ui --backend-store-uri {uri}" in page
    bundle = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    routes = "".join(path.read_text(errors="ignore") for path in bundle.glob("main.*.js"))
    assert "/experiments/:experimentId/runs" in routes  # MLflow 3's UI knows the runs page we link to
