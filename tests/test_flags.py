"""Failure flags on real audio: a sketch song made through its plan (no flag raised), and takes built from it that
failed: silent, clipped, a vocal that stops halfway, two bars looped twenty times; a YuE take that never sang its
last sections; the thresholds a song sets; the review page's line for a flagged take."""

from __future__ import annotations

import json

import numpy as np
import pytest

from songforge.album_file import album_from_dict
from songforge.audio.io import read_audio
from songforge.errors import ParamsError
from songforge.flags.flag import FLAG_NAMES, flag_metrics
from songforge.flags.judge import judge_take
from songforge.flags.level import detect_clipping, detect_silence
from songforge.flags.loops import detect_loop
from songforge.flags.settings import ClippingLimits, FlagSettings, LoopLimits, SilenceLimits
from songforge.lyrics import parse_lyrics
from songforge.plan import plan_song, run_plan
from songforge.report.html import SongReport, album_report_html

LYRICS = ("[verse]\nLittle light upon the hill\nShining softly, standing still\n"
          "[chorus]\nOh the night is long and wide\nHold the lantern by my side\n"
          "[verse]\nRiver running to the sea\nCarry all my songs for me\n"
          "[chorus]\nOh the night is long and wide\nHold the lantern by my side\n")
BPM = 110.0
BAR_S = 4 * 60.0 / BPM


def album(**song):
    return album_from_dict({"title": "Flags", "songs": [{"title": "Lantern", "lyrics": LYRICS, "bpm": BPM,
                                                         "duration_s": 40, **song}]})


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> dict:
    """A good sketch song made by its whole plan, flags step included: its results and folder."""
    spec = album()
    plan = plan_song(spec.songs[0], spec)
    folder = tmp_path_factory.mktemp("lantern")
    return {"plan": plan, "results": run_plan(plan, folder), "folder": folder}


def audio(song: dict, name: str) -> tuple[np.ndarray, int]:
    return read_audio(song["folder"] / name)


def take(song: dict) -> dict:
    return json.loads((song["folder"] / "take.json").read_text())


def by_name(flags) -> dict:
    return {flag.name: flag for flag in flags}


def test_a_good_sketch_song_through_its_plan_raises_no_flag(song):
    plan = song["plan"]
    assert plan.names.index("measure") < plan.names.index("flags") < plan.names.index("plots")
    assert dict(plan.steps[plan.names.index("flags")].sources) == {
        "master": "master", "vocals": "generate", "mix": "mix", "take": "generate", "instrumental": "generate"}
    view = plan.view()
    assert "flags" in view.metrics and ("flags", "flags") in view.artifacts
    data = song["results"]["flags"].data
    assert data["failed"] == 0 and all(data[f"flag_{name}"] == 0 for name in FLAG_NAMES), data
    document = json.loads((song["folder"] / "flags.json").read_text())
    assert [flag["name"] for flag in document["flags"]] == list(FLAG_NAMES) and document["failed"] == 0
    voiceless = next(flag for flag in document["flags"] if flag["name"] == "voiceless_sections")["evidence"]
    assert [s["tag"] for s in voiceless["sections"]] == ["verse", "chorus", "verse", "chorus"]
    assert min(s["voiced_share"] for s in voiceless["sections"]) > 0.8  # the sketch sings every note it wrote
    loop = next(flag for flag in document["flags"] if flag["name"] == "loop")["evidence"]
    assert loop["repeats"] < 3


def test_a_silent_or_mostly_silent_take_is_flagged(song):
    mix, rate = audio(song, "mix.wav")
    assert not detect_silence(mix, rate, SilenceLimits()).raised
    hiss = np.random.default_rng(0).normal(0, 10 ** (-80 / 20), mix.shape).astype(np.float32)
    quiet = detect_silence(hiss, rate, SilenceLimits())
    assert quiet.raised and quiet.evidence["lufs"] < -45 and "LUFS" in quiet.summary
    mostly = mix.copy()
    mostly[int(12 * rate):] = 0.0  # the take goes silent after 12 s of its 40
    found = detect_silence(mostly, rate, SilenceLimits())
    assert found.raised and found.evidence["silent_share"] > 0.6
    start, end = found.evidence["silent_spans_s"][0]
    assert 12.0 <= start <= 12.5 and end == pytest.approx(len(mix) / rate, abs=0.01)


def test_clipped_runs_are_flagged_in_the_signal_that_has_them(song):
    master, rate = audio(song, "master.wav")
    vocals, _ = audio(song, "stems/vocals.wav")
    clean = detect_clipping({"master": master, "vocals": vocals}, {"master": rate, "vocals": rate}, ClippingLimits())
    assert not clean.raised and clean.evidence["signals"]["master"]["runs"] == 0
    loud = np.clip(master * 4.0, -1.0, 1.0)  # 12 dB into a hard clip at full scale
    clamped = np.clip(vocals * 4.0, -0.99, 0.99)  # a decoder's clamp below full scale (YuE's save_audio)
    found = detect_clipping({"master": loud, "vocals": clamped, "instrumental": vocals},
                            {"master": rate, "vocals": rate, "instrumental": rate}, ClippingLimits())
    assert found.raised and found.evidence["clipped"] == ["master", "vocals"]
    runs = found.evidence["signals"]["master"]
    first = runs["first_s"][0]
    assert np.all(np.abs(loud[int(round(first * rate)):int(round(first * rate)) + 3]).max(axis=1) >= 0.999)
    assert runs["clipped_samples"] >= 3 * runs["runs"] > 30
    assert found.evidence["signals"]["vocals"]["peak"] == pytest.approx(0.99, abs=1e-6)


def test_a_vocal_that_stops_halfway_ends_early_and_leaves_sections_voiceless(song):
    vocals, rate = audio(song, "stems/vocals.wav")
    cut_s = 20.0
    vocals[int(cut_s * rate):] = 0.0
    flags = by_name(judge_take(audio(song, "master.wav"), (vocals, rate), parse_lyrics(LYRICS), FlagSettings(),
                               take=take(song)))
    ends = flags["ends_early"]
    assert ends.raised and ends.evidence["last_voiced_s"] <= cut_s + 1.0
    assert ends.evidence["words_end_s"] > 35.0 and "the voice stops" in ends.summary
    sung_after = [s for s in take(song)["sections"] if s["lines"] and s["start_s"] >= cut_s - 1.0]
    assert len(sung_after) == 2  # the second verse (from 19.6 s) and the second chorus
    named = [f"{s['tag']} (section {take(song)['sections'].index(s) + 1}, {s['start_s']:.1f}-{s['end_s']:.1f} s)"
             for s in sung_after]
    assert flags["voiceless_sections"].raised and flags["voiceless_sections"].evidence["voiceless"] == named
    assert ends.evidence["sections_after_the_voice"] == named
    assert not flags["silence"].raised and not flags["loop"].raised  # the mix plays on: only the voice failed
    metrics = flag_metrics(list(flags.values()))
    assert metrics["failed"] == 2 and metrics["flag_ends_early"] == metrics["flag_voiceless_sections"] == 1
    assert "no voice in verse (section 4" in metrics["flags_note"]


def test_two_bars_looped_twenty_times_are_a_loop_and_the_song_is_not(song):
    master, rate = audio(song, "master.wav")
    chorus = next(s for s in take(song)["sections"] if s["tag"] == "chorus")
    start = int(round(chorus["start_s"] * rate))
    looped = np.tile(master[start:start + int(round(2 * BAR_S * rate))], (20, 1))
    lyrics = parse_lyrics(LYRICS)
    found = detect_loop(looped, rate, lyrics, LoopLimits())
    assert found.raised and 18 <= found.evidence["repeats"] <= 20.5
    assert found.evidence["period_s"] == pytest.approx(2 * BAR_S, abs=0.05)
    assert found.evidence["end_s"] - found.evidence["start_s"] > 0.9 * len(looped) / rate
    assert not detect_loop(master, rate, lyrics, LoopLimits()).raised
    # lyrics that write one line twelve times over ask for the repetition: twice that many repeats are allowed
    chant = parse_lyrics("[chorus]\n" + "Round and round we go\n" * 12)
    allowed = detect_loop(looped, rate, chant, LoopLimits())
    assert not allowed.raised and allowed.evidence["written_repeats"] == 12


def test_a_yue_take_that_never_generated_its_last_sections_ends_early(song):
    vocals, rate = audio(song, "stems/vocals.wav")
    yue_take = {"engine": "yue", "seed": 0, "params": {"run_n_segments": 2, "compat": "fixed"}}
    flags = by_name(judge_take(audio(song, "master.wav"), (vocals, rate), parse_lyrics(LYRICS), FlagSettings(),
                               take=yue_take))
    assert flags["ends_early"].raised
    assert flags["ends_early"].evidence["unsung_sections"] == ["verse (section 3)", "chorus (section 4)"]
    voiceless = flags["voiceless_sections"]  # YuE records no timeline: the check says it could not be made
    assert not voiceless.raised and "no timed sections" in voiceless.evidence["skipped"]
    every = {**yue_take, "params": {"run_n_segments": None, "compat": "fixed"}}
    assert not by_name(judge_take(audio(song, "master.wav"), (vocals, rate), parse_lyrics(LYRICS), FlagSettings(),
                                  take=every))["ends_early"].raised


def test_a_song_tunes_the_thresholds_and_a_bad_one_is_refused_before_any_run(song):
    tuned = album(flags={"loop": {"min_repeats": 30}})
    planned = next(p for p in plan_song(tuned.songs[0], tuned).steps if p.name == "flags")
    assert planned.params.settings.loop.min_repeats == 30 and planned.params.settings.silence == SilenceLimits()
    master, rate = audio(song, "master.wav")
    looped = np.tile(master[: int(round(2 * BAR_S * rate))], (20, 1))
    assert not detect_loop(looped, rate, parse_lyrics(LYRICS), planned.params.settings.loop).raised
    with pytest.raises(ParamsError, match=r"flags\.loop\.similarity"):
        album(flags={"loop": {"similarity": 2}})
    with pytest.raises(ParamsError, match=r"max_period_s"):
        album(flags={"loop": {"min_period_s": 5, "max_period_s": 2}})


def test_the_review_page_shows_a_flagged_take_and_its_evidence(tmp_path):
    note = "ends early: the voice stops at 20.0 s, the lyrics run to 36.5 s"
    flagged = SongReport("Flagged", "01-flagged", metrics={"failed": 1, "flag_ends_early": 1, "flags_note": note})
    fine = SongReport("Fine", "02-fine", metrics={"failed": 0, "flag_ends_early": 0, "flags_note": ""})
    page = album_report_html("Flags", [flagged, fine], tmp_path / "report.html").read_text()
    card, other = page.split('id="song-01"')[1].split('id="song-02"')
    assert "1 failure flag raised." in card and note in card and "flags.json" in card
    assert "failure flag" not in other
