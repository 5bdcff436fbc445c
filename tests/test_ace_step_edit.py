"""`songforge edit` on an ACE-Step song made by the album flow (a real Prefect API, a real sqlite MLflow store, the
tiny random AceStepPipeline saved and loaded by the engine's loader), through the real command (typer's runner):

- repaint --from 4 --to 7: inside the range the edited engine mix is new (whether it is as new as another seed's
  take is test_ace_step_repaint.py's criterion); outside it, beyond the 0.5 s crossfade (edit.CROSSFADE_S), it is
  the original bit for bit (tolerance stated: 0; measured: 0), and master.wav, mastered again over the whole
  song, is the original's within MASTER_DRIFT of its rms level; the original folder is untouched; the edit is a
  song folder of its own (mix, master, measure, plots, manifest, the album's settings) with an MLflow run that is
  a child of the song's run; the same edit again is taken from the cache, in the same folder.
- a step failing while the edit runs: exit 1 and the edit's MLflow run closed FAILED.
- extend --extend 3: the song is 3 s longer, its first part the original's.
- --lyrics FILE: the repaint is conditioned on them (the same seed without them gives other audio in the range),
  and the edited song's take.json and lyrics.txt hold them.
- refused before any work, exit 2 and no edit folder: a range past the take, a folder that is no song's, a model
  that is gone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from ace_step_tiny import write_tiny_ace_step
from typer.testing import CliRunner

from songforge.album_file import load_album
from songforge.artifacts import file_sha256
from songforge.audio.io import read_audio
from songforge.engine.ace_step.edit import CROSSFADE_S

pytestmark = pytest.mark.slow

LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n\n[chorus]\nLanterns in the rain\n"
RATE = 48000
MASTER_DRIFT = 0.1  # master.wav outside the edited range: rms difference from the original's, of its rms (-20 dB)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio))))


@pytest.fixture(scope="module")
def made(prefect_api, tmp_path_factory) -> dict:
    """One 12 s ace-step song made by the album flow; its folder, album and MLflow store."""
    from flows.album import album_flow

    root = tmp_path_factory.mktemp("edit")
    model = write_tiny_ace_step(root / "models" / "tiny-ace")
    path = root / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Edited", "songs": [{
        "title": "Lanterns", "lyrics": LYRICS, "duration_s": 12, "seed": 0, "bpm": 96, "genre": ["dreamy synth-pop"],
        "engine": {"name": "ace-step", "params": {"model": str(model), "inference_steps": 3}}}]}))
    album = load_album(path)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    result = album_flow(album, str(root / "out"), uri)
    assert not result["failed"], result
    return {"folder": Path(result["folders"][0]), "album": album, "uri": uri, "model": model,
            "song_run": json.loads((Path(result["folders"][0]) / "manifest.json").read_text())["runs"]["mlflow"]}


@pytest.fixture
def api(made, prefect_api, monkeypatch) -> dict:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", made["uri"])
    return made


def run(made: dict, *args: str):
    from app.cli import app

    return CliRunner().invoke(app, ["edit", str(made["folder"]), *map(str, args)])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of the original song (not its edits) by content."""
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and "edits" not in p.relative_to(folder).parts}


def test_a_repaint_changes_its_range_only_is_a_tracked_version_and_is_cached_on_rerun(api):
    from mlflow import MlflowClient

    folder = api["folder"]
    before = snapshot(folder)
    done = run(api, "--from", 4, "--to", 7, "--seed", 1)
    assert done.exit_code == 0, done.output
    edited_folder = folder / "edits" / "01-4-7"
    assert f"edit: {edited_folder}" in done.output

    original, _ = read_audio(folder / "stems" / "engine_mix.wav")
    edited, rate = read_audio(edited_folder / "stems" / "engine_mix.wav")
    assert rate == RATE and edited.shape == original.shape == (12 * RATE, 2)
    inside = slice(4 * RATE, 7 * RATE)
    margin = int(CROSSFADE_S * RATE)
    outside = np.r_[0:inside.start - margin, inside.stop + margin:len(original)]

    print(f"inside: edit vs original rms {rms(edited[inside] - original[inside]):.4f}; outside beyond "
          f"{CROSSFADE_S} s: max |diff| {np.abs(edited[outside] - original[outside]).max():.3g}")
    # Whether the range is a fresh draw is test_ace_step_repaint.py's criterion (K repaints against K takes);
    # here the plumbing: the command's repaint changed the range, and nothing beyond the crossfade.
    assert rms(edited[inside] - original[inside]) > 0.1 * rms(original[inside])
    np.testing.assert_array_equal(edited[outside], original[outside])  # tolerance 0: the original's own samples
    master_before, _ = read_audio(folder / "master.wav")
    master_after, _ = read_audio(edited_folder / "master.wav")
    level = rms(master_before[outside])
    drift = rms(master_after[outside] - master_before[outside]) / level
    print(f"master.wav outside the range: rms diff {drift:.4f} of its level "
          f"({20 * np.log10(max(drift, 1e-12)):.1f} dB)")
    # The master is re-mastered over the whole song (loudness, limiter): outside the range it stays the
    # original's within MASTER_DRIFT of its rms level (a gain change of a few tenths of a dB, no new audio).
    assert drift <= MASTER_DRIFT

    assert snapshot(folder) == before  # the original untouched
    for made_file in ("mix.wav", "manifest.json", "take.json", "metrics.json", "review/report.html"):
        assert (edited_folder / made_file).is_file(), made_file  # the song's chain re-run on the edit
    page = (edited_folder / "review" / "report.html").read_text()
    assert "Lanterns (original)" in page and "Lanterns (edit 01-4-7)" in page  # side by side
    assert "../../../stems/engine_mix.wav" in page and "../stems/engine_mix.wav" in page  # both players
    for made_in in (folder, edited_folder):  # the album's settings, under which the edit is made
        settings = json.loads((made_in / "manifest.json").read_text())["params"]["album"]
        assert settings["measure"] == {"pitch_model": "tiny"} and settings["commercial"] is False
    take = json.loads((edited_folder / "take.json").read_text())
    assert take["edit"]["start_s"] == 4 and take["edit"]["end_s"] == 7 and take["edit"]["seed"] == 1

    client = MlflowClient(api["uri"])
    (child,) = client.search_runs([client.get_run(api["song_run"]["run_id"]).info.experiment_id],
                                  "tags.`songforge.kind` = 'edit'")
    assert child.data.tags["mlflow.parentRunId"] == api["song_run"]["run_id"]
    assert child.data.params["edit.start_s"] == "4.0" and "lufs" in child.data.metrics

    made_at = (edited_folder / "stems" / "engine_mix.wav").stat().st_mtime_ns
    again = run(api, "--from", 4, "--to", 7, "--seed", 1)
    assert again.exit_code == 0, again.output
    cached = again.output.split("from the cache: ")[1].splitlines()[0].split(", ")
    assert {"repaint", "mix", "master", "measure"} <= set(cached), again.output
    assert (edited_folder / "stems" / "engine_mix.wav").stat().st_mtime_ns == made_at
    assert sorted(p.name for p in (folder / "edits").iterdir()) == ["01-4-7"]


def test_extend_makes_the_song_longer_by_the_asked_seconds(api):
    folder = api["folder"]
    done = run(api, "--extend", 3)
    assert done.exit_code == 0, done.output
    extended_folder = next((folder / "edits").glob("*-extend-3"))
    original, _ = read_audio(folder / "stems" / "engine_mix.wav")
    longer, rate = read_audio(extended_folder / "stems" / "engine_mix.wav")
    assert longer.shape == (15 * RATE, 2)
    kept = len(original) - int(CROSSFADE_S * rate)
    np.testing.assert_array_equal(longer[:kept], original[:kept])
    assert rms(longer[len(original):]) > 0.1 * rms(original)
    assert json.loads((extended_folder / "take.json").read_text())["duration_s"] == 15
    assert json.loads((extended_folder / "metrics.json").read_text())["duration_s"] == pytest.approx(15, abs=0.01)


def test_bad_requests_are_refused_before_any_work(api, tmp_path):
    folder = api["folder"]
    edits = sorted(p.name for p in (folder / "edits").iterdir()) if (folder / "edits").is_dir() else []

    past = run(api, "--from", 13, "--to", 14)
    assert past.exit_code == 2 and "--from: is 13.0 s, outside the take (0 to 12.00 s)" in past.output, past.output
    both = run(api, "--from", 1, "--to", 2, "--extend", 3)
    assert both.exit_code == 2 and "--from/--to/--extend" in both.output
    lyrics = run(api, "--from", 1, "--to", 2, "--lyrics", "no section tags")
    assert lyrics.exit_code == 2 and "--lyrics" in lyrics.output

    from app.cli import app

    nothing = CliRunner().invoke(app, ["edit", str(tmp_path), "--from", 1, "--to", 2])
    assert nothing.exit_code == 2 and "is not a finished song's folder (no manifest.json)" in nothing.output

    moved = api["model"].with_name("moved-away")
    shutil.move(api["model"], moved)
    try:
        gone = run(api, "--from", 1, "--to", 2)
    finally:
        shutil.move(moved, api["model"])
    assert gone.exit_code == 2 and "missing, so nothing was started" in gone.output, gone.output

    elsewhere = CliRunner().invoke(app, ["edit", str(folder), "--from", 1, "--to", 2, "--tracking-uri",
                                         f"sqlite:///{tmp_path / 'other.db'}"])
    assert elsewhere.exit_code == 2 and "--tracking-uri" in elsewhere.output
    now = sorted(p.name for p in (folder / "edits").iterdir()) if (folder / "edits").is_dir() else []
    assert now == edits  # no edit folder made by any of them


def test_new_lyrics_for_the_range_reach_the_repaint_and_the_edited_songs_files(api, tmp_path):
    folder = api["folder"]
    words = LYRICS.replace("Lanterns in the rain", "Lanterns on the lane")
    (tmp_path / "new.txt").write_text(words)
    same_seed = run(api, "--from", 8, "--to", 10, "--seed", 5)
    worded = run(api, "--from", 8, "--to", 10, "--seed", 5, "--lyrics", tmp_path / "new.txt")
    assert same_seed.exit_code == 0 and worded.exit_code == 0, worded.output
    plain_folder, worded_folder = (Path(done.output.split("edit: ")[1].splitlines()[0]) for done in (same_seed,
                                                                                                      worded))
    assert plain_folder != worded_folder and worded_folder.parent == folder / "edits"
    assert json.loads((worded_folder / "take.json").read_text())["lyrics"] == words
    assert "Lanterns on the lane" in (worded_folder / "lyrics.txt").read_text()
    plain, _ = read_audio(plain_folder / "stems" / "engine_mix.wav")
    rewritten, _ = read_audio(worded_folder / "stems" / "engine_mix.wav")
    inside = slice(8 * RATE, 10 * RATE)
    assert rms(rewritten[inside] - plain[inside]) > 1e-3 * rms(plain[inside])  # the words reach the DiT
    np.testing.assert_array_equal(rewritten[:int(7.5 * RATE)], plain[:int(7.5 * RATE)])


def test_a_failed_edit_exits_1_and_leaves_a_failed_run_under_the_songs(api, monkeypatch):
    """A step that fails while the edit runs (not bad input: exit 1, not 2) closes the edit's MLflow run FAILED
    with the reason, tagged as an edit, as a failed song's run is. The failure is simulated at the model load
    (a GPU running out of memory cannot happen here)."""
    from contextlib import contextmanager

    from mlflow import MlflowClient

    from songforge.engine.ace_step import pipeline
    from songforge.errors import EngineError

    @contextmanager
    def out_of_memory(params):
        raise EngineError("CUDA out of memory (simulated)")
        yield

    monkeypatch.setattr(pipeline, "loaded", out_of_memory)
    failed = run(api, "--from", 2, "--to", 3, "--seed", 77)
    assert failed.exit_code == 1, failed.output
    assert "the edit failed" in failed.output and "CUDA out of memory (simulated)" in failed.output
    client = MlflowClient(api["uri"])
    runs = client.search_runs([client.get_run(api["song_run"]["run_id"]).info.experiment_id],
                              "tags.`songforge.kind` = 'edit' and attributes.status = 'FAILED'")
    (closed,) = [one for one in runs if one.data.params.get("edit.seed") == "77"]
    assert closed.data.tags["mlflow.parentRunId"] == api["song_run"]["run_id"]
    assert "CUDA out of memory (simulated)" in closed.data.tags["songforge.error"]
