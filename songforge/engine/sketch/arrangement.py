"""A composed song as notes per track: the sketch engine's score, exportable as MIDI and metadata."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from ...music import Key
from .form import BEATS_PER_BAR, SectionPlan
from .harmony import Chord

DRUM_CHANNEL = 9
MIDI_RESOLUTION = 960  # ticks per beat: under 0.4 ms per tick down to 160 bpm


@dataclass(frozen=True)
class Note:
    """A note in beats from the song's start (swing and humanize already applied).

    `syllable` numbers the lyric syllable a guide-vocal note sings (None elsewhere).
    """

    beat: float
    beats: float
    pitch: int
    velocity: int
    syllable: int | None = None

    @property
    def end_beat(self) -> float:
        return self.beat + self.beats


@dataclass
class Track:
    """One instrument: a GM program (or the percussion kit), a MIDI channel, its pan (0..127, 64 centre)
    and its loudness in the instrumental mix relative to the others (LU)."""

    name: str
    program: int
    channel: int
    notes: list[Note] = field(default_factory=list)
    level_db: float = 0.0
    pan: int = 64

    @property
    def midi_volume(self) -> int:
        """CC7 for `level_db` (GM volume is a squared law: 40 log10 of the controller)."""
        return int(round(min(127.0, 127.0 * 10 ** (self.level_db / 40.0))))

    @property
    def is_drum(self) -> bool:
        return self.channel == DRUM_CHANNEL


@dataclass
class Arrangement:
    """The whole score: form, chords per bar, tracks (one named 'vocal'), at a fixed tempo in 4/4.

    The song lasts `length_beats` beats plus `tail_s` seconds of ring-out after the last chord.
    """

    title: str
    bpm: float
    key: Key
    sections: tuple[SectionPlan, ...]
    chords: list[Chord]  # one per bar
    tracks: list[Track]
    length_beats: float
    tail_s: float
    swing: float

    def seconds(self, beat: float) -> float:
        return beat * 60.0 / self.bpm

    @property
    def duration_s(self) -> float:
        return self.seconds(self.length_beats) + self.tail_s

    @property
    def vocal(self) -> Track:
        return next(t for t in self.tracks if t.name == "vocal")

    @property
    def instruments(self) -> list[Track]:
        return [t for t in self.tracks if t.name != "vocal"]

    def to_midi(self):
        """The arrangement as a pretty_midi.PrettyMIDI: one instrument per track, tempo, key, lyrics."""
        import pretty_midi

        midi = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION, initial_tempo=self.bpm)
        midi.time_signature_changes.append(pretty_midi.TimeSignature(BEATS_PER_BAR, 4, 0.0))
        midi.key_signature_changes.append(
            pretty_midi.KeySignature(self.key.tonic + (12 if self.key.mode == "minor" else 0), 0.0))
        for track in self.tracks:
            instrument = pretty_midi.Instrument(track.program, is_drum=track.is_drum, name=track.name)
            instrument.notes = [pretty_midi.Note(n.velocity, n.pitch, self.seconds(n.beat), self.seconds(n.end_beat))
                                for n in track.notes]
            instrument.control_changes = [pretty_midi.ControlChange(7, track.midi_volume, 0.0),
                                          pretty_midi.ControlChange(10, track.pan, 0.0)]
            midi.instruments.append(instrument)
        # MIDI text declares no charset and mido writes latin-1: pass UTF-8 bytes through it, so any script
        # survives (ASCII is unchanged; read the events back as UTF-8).
        midi.lyrics = [pretty_midi.Lyric(word.encode("utf-8").decode("latin-1"), self.seconds(beat))
                       for beat, word in self._sung_words()]
        return midi

    def to_midi_bytes(self) -> bytes:
        """A standard MIDI file (type 1) of `to_midi()`, ready to save as arrangement.mid."""
        buffer = io.BytesIO()
        self.to_midi().write(buffer)
        return buffer.getvalue()

    def _sung_words(self) -> list[tuple[float, str]]:
        """(onset beat, word) for each sung word, at its first syllable's note."""
        onsets = {n.syllable: n.beat for n in self.vocal.notes}
        words = []
        for section in self.sections:
            for line in section.lines:
                syllable = line.first_syllable
                for word in line.words:
                    words.append((onsets[syllable], word.text))
                    syllable += len(word.syllables)
        return words

    def metadata(self) -> dict[str, Any]:
        """JSON-able facts: bpm, key, sections (seconds), chords per bar, vocal notes, programs."""
        bar_s = self.seconds(BEATS_PER_BAR)
        return {
            "engine": "sketch",
            "bpm": self.bpm,
            "key": self.key.name,
            "duration_s": round(self.duration_s, 4),
            "swing": self.swing,
            "sections": [{"tag": s.tag, "kind": s.kind, "energy": s.energy,
                          "start_s": round(self.seconds(s.start_beat), 4),
                          "end_s": round(self.seconds(s.end_beat), 4), "bars": s.bars,
                          "lines": [ln.text for ln in s.lines]} for s in self.sections],
            "chords": [{"bar": i, "start_s": round(i * bar_s, 4), "chord": c.name, "numeral": c.numeral}
                       for i, c in enumerate(self.chords)],
            "vocal_notes": [[round(self.seconds(n.beat), 4), round(self.seconds(n.beats), 4), n.pitch, n.syllable]
                            for n in self.vocal.notes],
            "programs": {t.name: t.program for t in self.tracks},
        }
