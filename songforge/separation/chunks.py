"""Long audio in overlapping chunks, and the chunks joined back with a crossfade: pure functions over samples.

A separator sees one chunk at a time (memory), so a seam would otherwise be an edit point where the
estimate jumps (audio-separator's own file chunking concatenates its chunks with no fade). Here consecutive
chunks share at least `overlap` samples, and the join fades the earlier chunk out while the later fades in
over exactly the shared samples, with raised-cosine gains that sum to one: where both chunks agree, the
signal passes unchanged. Layout, for 3 chunks of `chunk` samples (step = chunk - overlap, rounded down to
a multiple of `align`)::

    |---- chunk 0 ----|
                |---- chunk 1 ----|
                            |--- chunk 2 (to the end) ---|
                |xxx|       |xxx|   <- shared samples, crossfaded

The last chunk runs to the end of the audio; a remainder shorter than half a chunk is not separated on its
own but joins the chunk before it. The joined audio has the input's length, to the sample.
"""

from __future__ import annotations

import numpy as np

Span = tuple[int, int]


def chunk_spans(length: int, chunk: int, overlap: int, align: int = 1) -> list[Span]:
    """[start, end) of each chunk of `length` samples. Starts are multiples of `align` (e.g. a separator's own
    window step, so that its windows fall at the same places in every chunk); every chunk but the last has
    `chunk` samples; no sample is in more than two chunks. One span when the audio fits one chunk."""
    assert chunk > 0 and 0 <= overlap <= chunk // 2 and align >= 1, (chunk, overlap, align)
    if length <= chunk:
        return [(0, length)]
    step = (chunk - overlap) // align * align
    assert 2 * step >= chunk, f"align {align} leaves a step of {step}: chunks of {chunk} would overlap thrice"
    starts = [0]
    while starts[-1] + chunk < length:
        starts.append(starts[-1] + step)
    if length - starts[-1] < chunk // 2:
        starts.pop()  # a short remainder: the chunk before runs to the end instead
    return [(start, start + chunk) for start in starts[:-1]] + [(starts[-1], length)]


def rise(n: int) -> np.ndarray:
    """A fade-in of n samples, sin^2 from ~0 to ~1 (float64); 1 - rise(n) is the matching fade-out."""
    return np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2


def join(pieces: list[np.ndarray], spans: list[Span]) -> np.ndarray:
    """The pieces (each (end - start, ...) samples: a chunk's result) as one array of the spans' total length,
    crossfaded over the samples consecutive spans share. float32, the pieces' trailing shape."""
    assert len(pieces) == len(spans) and spans and spans[0][0] == 0, "spans from chunk_spans, a piece each"
    length = spans[-1][1]
    out = np.zeros((length, *pieces[0].shape[1:]), dtype=np.float64)
    for i, (piece, (start, end)) in enumerate(zip(pieces, spans)):
        assert piece.shape[0] == end - start, (piece.shape, start, end)
        gain = np.ones(end - start)
        if i > 0:
            shared = spans[i - 1][1] - start
            gain[:shared] = rise(shared)
        if i < len(spans) - 1:
            shared = end - spans[i + 1][0]
            gain[end - start - shared:] = 1.0 - rise(shared)
        out[start:end] += piece * gain.reshape(-1, *([1] * (piece.ndim - 1)))
    return out.astype(np.float32)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """(samples, ...) cut or zero-padded at the end to `length` samples (a resampler's rounding undone)."""
    if audio.shape[0] >= length:
        return audio[:length]
    return np.concatenate([audio, np.zeros((length - audio.shape[0], *audio.shape[1:]), audio.dtype)])
