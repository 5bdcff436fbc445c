"""The album's metrics.json: per-song numbers DVC can read, album means, spread and worst peak."""

from __future__ import annotations

import pytest

from songforge.report.album_metrics import album_metrics, song_numbers, tempo_error_pct


def test_song_numbers_keep_only_finite_numbers():
    metrics = {"lufs": -14.04321, "key": "C major", "clipped_samples": 0, "vocal_range_semitones": None,
               "tempo_acc1": 1.0, "flag": True, "lra_lu": float("nan")}
    assert song_numbers(metrics) == {"clipped_samples": 0.0, "lufs": -14.043, "tempo_acc1": 1.0}


def test_tempo_error_is_signed_percent_of_the_request():
    assert tempo_error_pct(126.0, 120) == pytest.approx(5.0)
    assert tempo_error_pct(60.0, 120) == pytest.approx(-50.0)
    assert tempo_error_pct(None, 120) is None


def test_album_means_spread_and_worst_peak():
    songs = {"01-a": {"lufs": -14.2, "true_peak_dbtp": -1.3, "vocal_range_semitones": 12.0},
             "02-b": {"lufs": -13.8, "true_peak_dbtp": -1.1}}
    result = album_metrics(songs)
    assert result["songs"] == songs
    album = result["album"]
    assert album["songs"] == 2
    assert album["lufs_mean"] == pytest.approx(-14.0)
    assert album["lufs_spread_lu"] == pytest.approx(0.4)
    assert album["true_peak_dbtp_max"] == pytest.approx(-1.1)
    assert album["vocal_range_semitones_mean"] == 12.0  # averaged over the songs that have it
