"""Chunking and crossfade (songforge.separation.chunks): spans cover the audio with at most two chunks per sample,
the join restores what every chunk agrees on, fades over exactly the shared samples, and keeps the length."""

from __future__ import annotations

import numpy as np
import pytest

from songforge.separation.chunks import chunk_spans, fit_length, join, rise


@pytest.mark.parametrize("length", [1, 999, 1000, 1001, 1499, 1500, 1501, 2999, 4321, 10_000])
@pytest.mark.parametrize("align", [1, 7, 100])
def test_spans_cover_the_audio_each_sample_in_one_or_two_chunks(length, align):
    chunk, overlap = 1000, 200
    spans = chunk_spans(length, chunk, overlap, align)
    assert spans[0][0] == 0 and spans[-1][1] == length
    depth = np.zeros(length, int)
    for start, end in spans:
        depth[start:end] += 1
    assert depth.min() == 1 and depth.max() <= 2
    for (start, end), (next_start, _) in zip(spans, spans[1:]):
        assert end - start == chunk, "only the last chunk may differ from the asked size"
        assert end - next_start >= overlap, "consecutive chunks share at least the overlap"
        assert next_start % align == 0
    if len(spans) > 1:
        assert chunk // 2 <= spans[-1][1] - spans[-1][0] < chunk + chunk // 2 + align, "no tiny last chunk"


def test_audio_that_fits_one_chunk_is_one_span():
    assert chunk_spans(1000, 1000, 200) == [(0, 1000)]
    assert chunk_spans(10, 1000, 200) == [(0, 10)]


def test_a_short_remainder_joins_the_chunk_before():
    # steps of 800: a chunk at 800 would hold 1810 - 800 = 1010 samples; one at 1600 only 210 (< half a chunk)
    assert chunk_spans(1810, 1000, 200) == [(0, 1000), (800, 1810)]
    assert chunk_spans(2200, 1000, 200) == [(0, 1000), (800, 1800), (1600, 2200)]


@pytest.mark.parametrize("length", [1000, 1001, 2345, 9999])
def test_the_join_of_unchanged_chunks_is_the_audio(length):
    audio = np.random.default_rng(length).standard_normal((length, 2)).astype(np.float32)
    spans = chunk_spans(length, 1000, 250, align=50)
    joined = join([audio[start:end] for start, end in spans], spans)
    assert joined.shape == audio.shape and joined.dtype == np.float32
    np.testing.assert_allclose(joined, audio, atol=1e-6)


def test_the_join_crossfades_over_exactly_the_shared_samples():
    """Chunk 0 says 1, chunk 1 says 0: 1 before the shared samples, a falling sin^2 across them, 0 after."""
    spans = chunk_spans(1500, 1000, 300)
    assert spans == [(0, 1000), (700, 1500)]
    joined = join([np.ones((1000, 1)), np.zeros((800, 1))], spans)[:, 0]
    assert np.all(joined[:700] == 1) and np.all(joined[1000:] == 0)
    fade = joined[700:1000]
    assert np.all(np.diff(fade) < 0) and 0.99 < fade[0] < 1 and 0 < fade[-1] < 0.01
    np.testing.assert_allclose(fade, 1 - rise(300), atol=1e-7)
    np.testing.assert_allclose(fade[::-1], rise(300), atol=1e-6)  # symmetric: neither chunk is favoured


def test_a_piece_of_the_wrong_length_is_refused():
    spans = chunk_spans(1500, 1000, 300)
    with pytest.raises(AssertionError):
        join([np.ones((1000, 1)), np.zeros((799, 1))], spans)


def test_fit_length_cuts_or_pads_to_the_sample():
    audio = np.ones((10, 2), np.float32)
    assert fit_length(audio, 7).shape == (7, 2)
    padded = fit_length(audio, 12)
    assert padded.shape == (12, 2) and np.all(padded[10:] == 0) and padded.dtype == np.float32
