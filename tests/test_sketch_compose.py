"""The sketch engine's composer: form fitted to duration, diatonic harmony, melody rules, band, MIDI export."""

from __future__ import annotations

import io

import pretty_midi
import pytest

from songforge.engine.sketch import SketchParams, compose
from songforge.engine.sketch.form import section_kind
from songforge.engine.sketch.harmony import chord
from songforge.engine.sketch.melody import line_rhythm
from songforge.errors import ParamsError
from songforge.syllables import line_syllables
from songforge.music import Key
from songforge.params import SongSpec

LYRICS = """[verse]
City lights are fading into morning
I keep your letters folded in my coat

[pre_chorus]
Every step a promise

[chorus]
Hold on, hold on, the night is almost over
Hold on, hold on, the sun is coming through

[bridge]
And if the morning never finds us
We will make our own light
"""


def song(**fields) -> SongSpec:
    return SongSpec(**{"title": "Guide", "lyrics": LYRICS, "duration_s": 45, **fields})


@pytest.mark.parametrize("bpm", [72, 96, 140, 200])
@pytest.mark.parametrize("duration_s", [30, 45, 90])
def test_form_lands_within_15_percent_of_duration(bpm, duration_s):
    arrangement = compose(song(bpm=bpm, duration_s=duration_s), SketchParams(), 0)
    assert arrangement.duration_s >= 10
    assert abs(arrangement.duration_s / duration_s - 1) <= 0.15, arrangement.duration_s
    starts = [s.start_beat for s in arrangement.sections]
    assert starts == sorted(starts) and arrangement.sections[-1].end_beat == arrangement.length_beats


@pytest.mark.parametrize("bpm, duration_s", [(120, 20), (60, 20), (60, 25)])
def test_lyrics_too_long_for_the_duration_name_the_field_and_fix(bpm, duration_s):
    with pytest.raises(ParamsError) as error:
        compose(song(bpm=bpm, duration_s=duration_s, lyrics=LYRICS * 2 if bpm == 120 else LYRICS), SketchParams(), 0)
    assert error.value.field == "duration_s" and "raise duration_s" in error.value.fix


def test_sections_follow_the_lyrics_with_the_chorus_fullest():
    arrangement = compose(song(), SketchParams(), 0)
    kinds = [s.kind for s in arrangement.sections if s.lines]
    assert kinds == ["verse", "prechorus", "chorus", "bridge"]
    energy = {s.kind: s.energy for s in arrangement.sections}
    assert energy["chorus"] == max(energy.values())
    assert arrangement.sections[0].kind == "intro" and arrangement.sections[-1].kind == "outro"
    assert section_kind("verse2") == "verse" and section_kind("pre_chorus") == "prechorus"


@pytest.mark.parametrize("key", ["C major", "A minor", "Eb major", "F# minor"])
def test_chords_are_diatonic_and_the_song_ends_on_the_tonic(key):
    parsed = Key.parse(key)
    arrangement = compose(song(key=key), SketchParams(), 3)
    leading_tone = (parsed.tonic + 11) % 12  # the harmonic-minor dominant's third
    for c in arrangement.chords:
        assert set(c.pitch_classes) <= set(parsed.scale) | {leading_tone}, c.name
    assert arrangement.chords[-1] == chord(parsed, "I" if parsed.mode == "major" else "i")
    assert len(arrangement.chords) == arrangement.sections[-1].start_beat // 4 + arrangement.sections[-1].bars


def test_vocal_notes_are_in_scale_with_chord_tones_on_the_beat():
    key = Key.parse("A minor")
    arrangement = compose(song(key="A minor"), SketchParams(humanize=0.0), 5)
    notes = arrangement.vocal.notes
    syllables = sum(sum(line_syllables(line)) for s in song().sections.sections for line in s.lines)
    assert len(notes) == syllables and [n.syllable for n in notes] == list(range(syllables))
    assert all(n.pitch % 12 in key.scale for n in notes)
    on_beat = [n for n in notes if n.beat % 1 == 0]
    assert on_beat and all(n.pitch % 12 in arrangement.chords[int(n.beat // 4)].pitch_classes for n in on_beat)
    assert max(n.pitch for n in notes) - min(n.pitch for n in notes) >= 12


def test_line_rhythm_fits_the_span_and_leaves_a_breath():
    import numpy as np

    rng = np.random.default_rng(0)
    for n_notes, beats in [(1, 4), (7, 8), (12, 4), (6, 16), (2, 1.5)]:
        rhythm = line_rhythm(n_notes, beats, [True] * n_notes, rng)
        assert len(rhythm) == n_notes
        ends = [offset + length for offset, length in rhythm]
        assert all(a <= b for a, b in zip(ends, [o for o, _ in rhythm[1:]]))
        assert ends[-1] <= beats - 0.5


def _mean_pitch(notes) -> float:
    return sum(n.pitch for n in notes) / len(notes)


def test_tags_choose_the_band_and_the_voice_register():
    female = compose(song(instrument=["violin", "acoustic guitar"], voice=["female"]), SketchParams(), 0)
    male = compose(song(genre=["electronic"], voice=["male"]), SketchParams(), 0)
    programs = {t.name: t.program for t in female.tracks}
    assert programs["lead"] == 40 and programs["chords"] == 25 and programs["vocal"] in (52, 53, 54)
    assert {t.name: t.program for t in male.tracks}["bass"] == 38
    assert _mean_pitch(female.vocal.notes) - _mean_pitch(male.vocal.notes) >= 7
    assert compose(song(), SketchParams(vocal_program="voice_oohs"), 0).vocal.program == 53
    assert "drums" not in {t.name for t in compose(song(), SketchParams(drums=False), 0).tracks}


def test_swing_delays_off_beat_eighths():
    straight = compose(song(genre=["jazz"]), SketchParams(swing=0.0, humanize=0.0), 0)
    swung = compose(song(genre=["jazz"]), SketchParams(humanize=0.0), 0)
    assert swung.swing > 0
    hats = lambda a: sorted(n.beat % 1 for t in a.tracks if t.is_drum for n in t.notes  # noqa: E731
                            if n.pitch in (42, 46, 51) and 0.4 < n.beat % 1 < 0.8)
    assert hats(straight) and set(hats(straight)) == {0.5}
    assert min(hats(swung)) > 0.5


def test_midi_export_round_trips_through_pretty_midi():
    arrangement = compose(song(bpm=96, key="A minor"), SketchParams(), 0)
    midi = pretty_midi.PrettyMIDI(io.BytesIO(arrangement.to_midi_bytes()))
    assert midi.get_tempo_changes()[1].tolist() == [96.0]
    assert midi.key_signature_changes[0].key_number == 9 + 12
    assert [(i.name, i.program, i.is_drum) for i in midi.instruments] == \
        [(t.name, t.program, t.is_drum) for t in arrangement.tracks]
    for track, instrument in zip(arrangement.tracks, midi.instruments):
        written = sorted((n.pitch, arrangement.seconds(n.beat)) for n in track.notes)
        read = sorted((n.pitch, n.start) for n in instrument.notes)
        assert len(written) == len(read) and all(
            p == q and abs(a - b) < 1e-3 for (p, a), (q, b) in zip(written, read)), track.name
    assert [lyric.text for lyric in midi.lyrics][:3] == ["City", "lights", "are"]


def test_same_seed_same_notes_other_seed_other_notes():
    first, again, other = (compose(song(), SketchParams(), seed) for seed in (7, 7, 8))
    assert first.metadata() == again.metadata()
    assert first.metadata()["vocal_notes"] != other.metadata()["vocal_notes"]


def test_every_program_the_band_can_choose_is_in_the_soundfont():
    import tinysoundfont

    from songforge.engine.sketch.orchestra import all_programs
    from songforge.engine.sketch.render import soundfont_path

    synth = tinysoundfont.Synth()
    soundfont = synth.sfload(soundfont_path())
    assert len(all_programs()) > 20
    assert [p for p in sorted(all_programs()) if synth.sfpreset_name(soundfont, 0, p) is None] == []
    assert synth.sfpreset_name(soundfont, 128, 0) is not None  # the GM drum kit


def test_temperature_one_is_the_default_and_more_temperature_strays_further_from_the_safest_line():
    assert compose(song(), SketchParams(temperature=1.0), 5).metadata() == compose(song(), SketchParams(), 5).metadata()

    def strayed(temperature: float) -> float:
        """Fraction of vocal notes that differ from the near-greedy (temperature 0.01) choice, over 4 seeds."""
        pairs = [(compose(song(), SketchParams(temperature=temperature), seed).vocal.notes,
                  compose(song(), SketchParams(temperature=0.01), seed).vocal.notes) for seed in range(4)]
        return sum(a.pitch != b.pitch for hot, cold in pairs for a, b in zip(hot, cold)) / sum(len(h) for h, _ in pairs)

    low, mid, high = strayed(0.3), strayed(1.0), strayed(2.0)
    assert 0 < low < mid < high, (low, mid, high)
    hot = compose(song(key="A minor"), SketchParams(temperature=2.0), 1)
    assert all(n.pitch % 12 in Key.parse("A minor").scale for n in hot.vocal.notes)  # wilder, still in key
