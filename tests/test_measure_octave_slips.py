"""Octave slips: folded back on constructed contours; a real octave leap kept; the demo album's written ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songforge.measure.octave_slips import MAX_SLIP_FRAMES, MAX_TWO_OCTAVE_SLIP_FRAMES, fix_octave_slips
from songforge.measure.pitch import held_notes, vocal_pitch

DEMO_ALBUM = Path(__file__).resolve().parents[1] / "params" / "albums" / "demo.yaml"


def contour(*notes: tuple[float, int]) -> np.ndarray:
    """(MIDI note or NaN, frames) pairs -> a (frames,) contour with +-0.2 semitone vibrato on voiced frames."""
    midi = np.concatenate([np.full(frames, note, dtype=np.float64) for note, frames in notes])
    return midi + 0.2 * np.sin(np.arange(midi.size) * 2 * np.pi * 0.055)


def test_an_octave_down_run_inside_a_note_is_folded_back():
    sung = contour((64, 40), (67, 40), (69, 30))
    slipped = sung.copy()
    slipped[50:66] -= 12  # 16 frames an octave low, inside the 67
    assert held_notes(slipped).tolist() == [55, 64, 67, 69]  # today's count: an octave too wide
    fixed = fix_octave_slips(slipped)
    assert np.allclose(fixed, sung)
    assert held_notes(fixed).tolist() == [64, 67, 69]


def test_a_slip_at_a_note_change_after_a_breath_two_octaves_down_is_folded_back():
    # The demo album's slip: 72 ... breath ... 16 frames at 48 ... 74.
    slipped = contour((67, 30), (72, 8), (np.nan, 2), (48, 16), (74, 30))
    fixed = fix_octave_slips(slipped)
    assert np.allclose(fixed[40:56], slipped[40:56] + 24)
    assert held_notes(fixed).tolist() == [67, 72, 74]
    assert np.isnan(fixed[38:40]).all()  # unvoiced frames stay unvoiced


def test_a_slip_the_voicing_broke_in_two_is_folded_back_whole():
    # A 3-minute sketch song: 67 ... 6 frames at 48, 7 unvoiced, 11 at 48 ... 72 (each half alone had the
    # other half, at its own pitch, for a neighbour).
    slipped = contour((67, 40), (48, 6), (np.nan, 7), (48, 11), (72, 30))
    fixed = fix_octave_slips(slipped)
    assert held_notes(fixed).tolist() == [67, 72]
    assert np.allclose(fixed[40:46], slipped[40:46] + 24) and np.isnan(fixed[46:53]).all()


def test_a_two_octave_slip_longer_than_a_one_octave_one_is_still_a_slip():
    slipped = contour((72, 30), (48, MAX_SLIP_FRAMES + 1), (72, 30))  # as the 3-minute song's, at 156.6 s
    assert held_notes(fix_octave_slips(slipped)).tolist() == [72]
    longer = contour((72, 30), (48, MAX_TWO_OCTAVE_SLIP_FRAMES + 1), (72, 30))
    assert held_notes(fix_octave_slips(longer)).tolist() == [48, 72]  # held this long, it is not taken for one


def test_an_octave_up_slip_is_folded_down():
    slipped = contour((60, 30), (72, 10), (60, 30))
    assert held_notes(fix_octave_slips(slipped)).tolist() == [60]


def test_a_melody_that_leaps_an_octave_and_stays_there_is_kept():
    # Up an octave on a short note that continues by step, and up an octave on a held note.
    stepwise = contour((60, 40), (62, 25), (72, 15), (74, 25), (76, 40))
    held = contour((55, 50), (67, 60), (np.nan, 10), (65, 50))
    for sung in (stepwise, held):
        assert np.array_equal(fix_octave_slips(sung), sung, equal_nan=True)
    assert held_notes(fix_octave_slips(stepwise)).tolist() == [60, 62, 72, 74, 76]


def test_only_short_runs_are_slips_and_other_leaps_stay():
    long_excursion = contour((60, 30), (72, MAX_SLIP_FRAMES + 1), (60, 30))
    assert np.array_equal(fix_octave_slips(long_excursion), long_excursion)
    fifth = contour((60, 30), (67, 10), (60, 30))  # not an octave: a short leap to a fifth is left to the note rule
    assert np.array_equal(fix_octave_slips(fifth), fifth)
    lonely = contour((np.nan, 50), (48, 10), (np.nan, 50))  # no context within reach: nothing to fold onto
    assert np.array_equal(fix_octave_slips(lonely), lonely, equal_nan=True)
    assert fix_octave_slips(np.zeros(0)).size == 0


def demo_songs() -> list[tuple[str, np.ndarray, int, list[int]]]:
    """Each demo song's title, sketch-engine vocal stem, rate and written vocal notes (MIDI); and the first song's
    lyrics sung four times over 3 minutes (benchmarks/measure_speed.py's song: it read 28 semitones, wrote 17)."""
    from songforge.album_file import load_album
    from songforge.params import SongSpec

    album = load_album(DEMO_ALBUM).songs
    first = album[0]
    verses = first.lyrics.replace("[outro]", "").strip() + "\n\n"
    long = SongSpec.model_validate({**first.model_dump(), "title": "Morning Light x4",
                                    "lyrics": verses * 4 + "[outro]\n", "duration_s": 180})
    songs = []
    for song in [*album, long]:
        stems = song.engine.engine.generate(song, song.engine.params, song.seed)
        songs.append((song.title, stems.vocals, stems.sample_rate, [n[2] for n in stems.metadata["vocal_notes"]]))
    return songs


@pytest.mark.slow
def test_demo_album_vocal_ranges_equal_the_spans_of_their_written_notes():
    # The vocal stems the sketch engine writes (the album's measure step reads them through the mix);
    # the written notes are its arrangement's vocal notes (arrangement.mid). Morning Light read 28 semitones.
    for title, vocals, rate, written in demo_songs():
        pitch = vocal_pitch(vocals, rate)
        assert (title, pitch.lowest_midi, pitch.highest_midi) == (title, min(written), max(written))
        assert pitch.range_semitones == max(written) - min(written)
