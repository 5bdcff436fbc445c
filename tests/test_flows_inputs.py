"""The flows and the CLI over the params checks: deployment runs confine every path before reading or writing
anything; the CLI prints every problem of a file and every input warning. Real files, no Prefect run needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import yaml
from test_inputs import album, noise

from songforge.album_file import load_album
from songforge.confine import ROOTS_SETTING
from songforge.errors import ParamsError

LYRICS = "[verse]\nHello there my friend\n[chorus]\nSing it loud\n"
DEPLOYMENT_ID = "PREFECT__RUNTIME__DEPLOYMENT__ID"  # prefect.runtime.deployment.id reads this override


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "params" / "albums").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return root


def album_file(project: Path, songs: list[dict], name: str = "album") -> Path:
    path = project / "params" / "albums" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"title": "Confined", "songs": songs}))
    return path


def test_the_deployment_flows_confine_the_album_file_the_out_folder_and_every_path(project, tmp_path, monkeypatch):
    from flows.album import album_file_flow
    from flows.song import album_song_flow, deployment_roots
    from flows.sweep import sweep_file_flow

    monkeypatch.chdir(project)  # a deployment runs in its project folder (the pull step sets it)
    assert deployment_roots() is None  # by hand: nothing confined
    monkeypatch.setenv(DEPLOYMENT_ID, "0b6f2d8e-6a43-4c5e-9b1e-6f3f7c2a1d00")
    monkeypatch.delenv(ROOTS_SETTING, raising=False)
    assert deployment_roots() == (project.resolve(),)
    inside = album_file(project, [{"title": "Climb", "lyrics_file": "../" * 40 + "etc/hostname"}])
    outside = tmp_path / "outside" / "album.yaml"
    outside.write_text(yaml.safe_dump({"title": "Out", "songs": [{"title": "A", "lyrics": LYRICS}]}))

    # .fn runs the flow's body without a Prefect run: each call must refuse before reading or writing anything
    for call, field in [(lambda: album_file_flow.fn(str(outside), "out"), "album_file"),
                        (lambda: album_file_flow.fn(str(inside), str(tmp_path / "outside" / "out")), "out_dir"),
                        (lambda: album_file_flow.fn(str(inside), "out"), "songs[0].lyrics_file"),
                        (lambda: sweep_file_flow.fn(str(outside), "out"), "sweep_file")]:
        with pytest.raises(ParamsError) as caught:
            call()
        assert caught.value.field == field and ROOTS_SETTING in str(caught.value), caught.value
    assert not (tmp_path / "outside" / "out").exists()

    fine = load_album(album_file(project, [{"title": "Fine", "lyrics": LYRICS}], name="fine"))
    with pytest.raises(ParamsError, match=ROOTS_SETTING) as caught:  # a song run: its out folder too
        album_song_flow.fn(fine, 0, str(tmp_path / "outside" / "out"), "sqlite:///unused.db", "no-parent-run")
    assert caught.value.field == "out_dir"
    monkeypatch.setenv(ROOTS_SETTING, str(tmp_path / "outside"))  # the operator lists it: the album file is let in
    with pytest.raises(ParamsError) as caught:
        album_file_flow.fn(str(inside), str(tmp_path / "outside" / "out"))
    assert caught.value.field == "songs[0].lyrics_file"  # the out folder passed; /etc still does not


def test_the_cli_prints_every_problem_and_every_input_warning(tmp_path, capsys):
    from typer.testing import CliRunner

    from app.cli import _input_warnings, app

    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "T", "songs": [{"title": "A", "lyrics": LYRICS, "bpm": 999},
                                                            {"title": "B", "lyrics": LYRICS, "key": "H"}]}))
    result = CliRunner().invoke(app, ["album", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and "songs[0].bpm" in errors[0] and "songs[1].key" in errors[1], result.output
    sf.write(tmp_path / "mono.wav", noise(8, 44100, channels=1), 44100)
    with _input_warnings():
        load_album(album(tmp_path, {"reference": "mono.wav"}))
    assert "warning: master.reference: " in capsys.readouterr().err
