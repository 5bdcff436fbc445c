"""`songforge separate FILE` on real audio (the sketch engine's stems mixed) with the tiny Roformer: the stems as WAVs,
as long as the file, with a progress bar; bad options and a missing model are one-line errors, nothing written."""

from __future__ import annotations

import numpy as np
from separation_fixtures import TINY, no_network, sketch_mix, tiny_models  # noqa: F401 (fixtures)
from typer.testing import CliRunner

from app.cli import app
from songforge.audio.io import read_audio


def test_separate_writes_each_stem_beside_a_bar(tiny_models, no_network, tmp_path):
    path, mix, rate = sketch_mix(tmp_path, duration_s=12, peak=0.9)
    result = CliRunner().invoke(app, ["separate", str(path), "--model", TINY, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "separating mix.wav" in result.output  # the tqdm bar (stderr)
    vocals, vocals_rate = read_audio(tmp_path / "out" / "mix_vocals.wav")
    instrumental, _ = read_audio(tmp_path / "out" / "mix_instrumental.wav")
    assert vocals_rate == rate and vocals.shape == instrumental.shape == mix.shape
    np.testing.assert_allclose(vocals + instrumental, mix, atol=1e-4)  # the tiny model's instrumental: the rest
    assert f"vocals: {tmp_path / 'out' / 'mix_vocals.wav'}" in result.output


def test_bad_options_and_a_missing_model_are_errors_before_any_file(tiny_models, no_network, tmp_path):
    path, _, _ = sketch_mix(tmp_path, duration_s=12)
    for options, said in [(["--model", TINY, "--stems", "vocals,drums"], "makes instrumental, vocals, not drums"),
                          (["--model", TINY, "--stems", ","], "--stems: ',' names no stem"),
                          (["--model", TINY, "--overlap-s", "200"], "--overlap-s: Input should be less than"),
                          ([], "songforge models pull bs-roformer-viperx-1297")]:
        result = CliRunner().invoke(app, ["separate", str(path), "--out", str(tmp_path / "out"), *options])
        assert result.exit_code == 2 and said in result.output, (options, result.output)
        assert not (tmp_path / "out").exists()
