"""Input files checked when params load: a reference that would ruin the master, or a prompt that is not audio, is
refused with its measured numbers before any stage runs; real audio written here with numpy and soundfile."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from songforge.album_file import load_album
from songforge.errors import ParamsError
from songforge.audio.spectrum import bandwidth_hz as content_bandwidth_hz
from songforge.inputs import InputWarning, reference_problems

LYRICS = "[verse]\nHello there my friend\n[chorus]\nSing it loud\n"
EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "yue" / "data" / "prompt_egs" / "pop.00001.mp3"


def noise(seconds: float, rate: int, channels: int = 2, cutoff_hz: float | None = None, seed: int = 0) -> np.ndarray:
    """White noise at -20 dBFS RMS, (samples, channels); with cutoff_hz, nothing above it (an FFT brick wall)."""
    audio = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * rate), channels))
    if cutoff_hz is not None:
        spectrum = np.fft.rfft(audio, axis=0)
        spectrum[np.fft.rfftfreq(audio.shape[0], 1 / rate) > cutoff_hz] = 0
        audio = np.fft.irfft(spectrum, n=audio.shape[0], axis=0)
    return audio.astype(np.float32)


def album(tmp_path: Path, master: dict, **song) -> Path:
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Refs", "master": master,
                                    "songs": [{"title": "One", "lyrics": LYRICS, **song}]}))
    return path


def refused(path: Path) -> list[ParamsError]:
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    return list(caught.value.problems)


def test_content_bandwidth_finds_where_the_content_stops():
    rate = 44100
    assert content_bandwidth_hz(noise(4, rate), rate) > 21000  # full band: up to Nyquist
    cut = noise(4, rate, cutoff_hz=5000)
    assert 4900 < content_bandwidth_hz(cut, rate) < 5200
    pcm16 = np.round(cut * 32767) / 32767  # a 16-bit file's quantisation floor is not content
    assert 4900 < content_bandwidth_hz(pcm16, rate) < 5200
    assert content_bandwidth_hz(noise(4, 8000), 8000) <= 4000  # never above Nyquist
    assert content_bandwidth_hz(np.zeros((rate, 2)), rate) == 0.0


def test_a_reference_that_is_not_audio_is_refused_at_load(tmp_path):
    (tmp_path / "notes.wav").write_text("these are my notes, not a song")
    [problem] = refused(album(tmp_path, {"reference": "notes.wav"}))
    assert problem.field == "master.reference" and "cannot be read as audio" in problem.problem
    assert "Fix: point master.reference at a full-length" in str(problem)


def test_a_reference_too_short_to_match_is_refused_even_when_poor_ones_are_allowed(tmp_path):
    sf.write(tmp_path / "blip.wav", noise(0.2, 44100), 44100)
    for master in ({"reference": "blip.wav"}, {"reference": "blip.wav", "allow_poor_reference": True}):
        [problem] = refused(album(tmp_path, master))
        assert "0.2 s, 44100 Hz, stereo" in problem.problem and "shorter than 3 s" in problem.problem


def test_a_mono_8_khz_reference_is_refused_with_its_numbers_and_allowed_on_request(tmp_path):
    sf.write(tmp_path / "phone.wav", noise(8, 8000, channels=1), 8000)
    [problem] = refused(album(tmp_path, {"reference": "phone.wav"}))
    assert "8.0 s, 8000 Hz, mono, content up to" in problem.problem
    assert "sampled under 32 kHz" in problem.problem and "content ends below 10 kHz" in problem.problem
    assert "allow_poor_reference: true" in problem.fix
    with pytest.warns(InputWarning) as caught:
        spec = load_album(album(tmp_path, {"reference": "phone.wav", "allow_poor_reference": True}))
    assert spec.master.reference.name == "phone.wav" and spec.master.allow_poor_reference
    said = " ".join(str(w.message) for w in caught)
    assert "used because allow_poor_reference is true" in said and "is mono" in said
    assert "allow_poor_reference" not in spec.master.model_dump()  # not an input of the master's cache key


def test_a_short_or_band_limited_reference_is_poor(tmp_path):
    sf.write(tmp_path / "short.wav", noise(4, 44100), 44100)
    sf.write(tmp_path / "dull.wav", noise(8, 44100, cutoff_hz=4000), 44100)
    [short] = refused(album(tmp_path, {"reference": "short.wav"}))
    assert "4.0 s" in short.problem and "shorter than 5 s" in short.problem
    [dull] = refused(album(tmp_path, {"reference": "dull.wav"}))
    assert "44100 Hz, stereo, content up to 4," in dull.problem and "content ends below 10 kHz" in dull.problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # allowed and stereo: used, a warning says so (raised here as an error)
        with pytest.raises(InputWarning, match="used because allow_poor_reference"):
            load_album(album(tmp_path, {"reference": "dull.wav", "allow_poor_reference": True}))


def test_a_good_mono_reference_is_used_with_a_warning_and_a_good_stereo_one_silently(tmp_path):
    sf.write(tmp_path / "mono.wav", noise(8, 44100, channels=1), 44100)
    with pytest.warns(InputWarning, match="is mono"):
        load_album(album(tmp_path, {"reference": "mono.wav"}))
    sf.write(tmp_path / "good.flac", noise(8, 48000), 48000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_album(album(tmp_path, {"reference": "good.flac"})).master.reference.name == "good.flac"


@pytest.mark.skipif(not EXAMPLE.is_file(), reason=f"the YuE prompt examples are not at {EXAMPLE.parent}")
def test_a_real_full_band_mp3_is_a_good_reference():
    problems, notes = reference_problems(EXAMPLE, "master.reference", allow_poor=False)
    assert problems == [] and notes == []


def test_input_problems_come_with_the_params_problems_in_one_error(tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    problems = refused(album(tmp_path, {"reference": "notes.wav", "target_lufs": -14}, bpm=999, key="H"))
    assert sorted(p.field for p in problems) == ["master.reference", "songs[0].bpm", "songs[0].key"]


def test_a_yue_prompt_that_is_missing_not_audio_or_outside_its_window_is_refused_at_load(tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    sf.write(tmp_path / "hook.wav", noise(6, 44100), 44100)
    path = tmp_path / "album.yaml"
    songs = [{"title": title, "lyrics": LYRICS, "engine": {"name": "yue", "params": params}} for title, params in [
        ("Missing", {"prompt_audio": str(tmp_path / "nope.wav")}),
        ("Not Audio", {"prompt_vocals": str(tmp_path / "notes.wav"),
                       "prompt_instrumental": str(tmp_path / "hook.wav")}),
        ("Past The End", {"prompt_audio": str(tmp_path / "hook.wav"), "prompt_start_s": 10, "prompt_end_s": 40}),
        ("Fine", {"prompt_audio": str(tmp_path / "hook.wav"), "prompt_start_s": 1, "prompt_end_s": 5})]]
    path.write_text(yaml.safe_dump({"title": "Prompts", "songs": songs}))
    problems = {p.field: p for p in refused(path)}
    assert set(problems) == {"songs[0].engine.params.prompt_audio", "songs[1].engine.params.prompt_vocals",
                             "songs[2].engine.params.prompt_audio"}
    assert "does not exist" in problems["songs[0].engine.params.prompt_audio"].problem
    assert "cannot be read as audio" in problems["songs[1].engine.params.prompt_vocals"].problem
    window = problems["songs[2].engine.params.prompt_audio"].problem
    assert "6.0 s, 44100 Hz, stereo" in window and "holds 0.0 s between prompt_start_s 10 and prompt_end_s 40" in window


def test_a_sweeps_references_are_checked_like_the_albums(tmp_path):
    from songforge.sweep import load_sweep

    sf.write(tmp_path / "phone.wav", noise(8, 8000, channels=1), 8000)
    sf.write(tmp_path / "good.wav", noise(8, 44100), 44100)
    (tmp_path / "song.yaml").write_text(yaml.safe_dump({"title": "One", "lyrics": LYRICS}))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"album": "song.yaml", "references": ["none", "phone.wav", "good.wav"]}))
    with pytest.raises(ParamsError) as caught:
        load_sweep(sweep)
    [problem] = caught.value.problems
    assert problem.field == "references[1]" and "8000 Hz, mono" in problem.problem
    (tmp_path / "song.yaml").write_text(yaml.safe_dump({"title": "One", "lyrics": LYRICS,
                                                        "master": {"allow_poor_reference": True}}))
    with pytest.warns(InputWarning, match=r"references\[1\]"):
        assert len(load_sweep(sweep).takes) == 3
