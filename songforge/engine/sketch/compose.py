"""compose(): a SongSpec and a seed -> an Arrangement (form, chords, band parts, guide vocal)."""

from __future__ import annotations

import numpy as np

from ...music import Key
from ...params import SongSpec
from .arrangement import DRUM_CHANNEL, Arrangement, Note, Track
from .band import bass_part, chord_part, lead_part, pad_part
from .drums import SLOW_BPM, drum_part
from .feel import perform
from .form import BEATS_PER_BAR, SectionPlan, plan_form
from .harmony import Chord, pick_templates, section_chords
from .melody import ChordAt, sing_line
from .orchestra import LEAD_REGISTER, Band, choose_band
from .params import SketchParams

TAIL_S = 1.0  # ring-out after the last chord, part of the song's length
# Independent random streams, so a change to one part leaves the others' choices alone.
_STREAMS = {"harmony": 1, "vocal": 2, "bass": 3, "lead": 4}
# Loudness of each part in the instrumental (LU, relative): harmony carries the key, drums the pulse.
LEVELS_DB = {"drums": -5.0, "bass": -4.0, "chords": -2.0, "pad": -7.0, "lead": -6.0}


def compose(song: SongSpec, params: SketchParams, seed: int,
            vocal_register: tuple[int, int] | None = None) -> Arrangement:
    """The song's arrangement: same song, params and seed give the same notes.

    `vocal_register` (lowest, highest MIDI note) overrides the band's, for a singer with a narrower range.
    """
    rng = {name: np.random.default_rng([seed, stream]) for name, stream in _STREAMS.items()}
    key = song.musical_key
    sections = plan_form(song.sections, song.bpm, song.duration_s, TAIL_S, params.bars_per_line, song.language)
    chords = _chords(sections, key, rng["harmony"])
    chord_at = lambda beat: chords[min(int(beat // BEATS_PER_BAR), len(chords) - 1)]  # noqa: E731
    band = choose_band(song, params)
    vocal = [note for section in sections for i, line in enumerate(section.lines)
             for note in sing_line(line, section.kind, section.energy, chord_at, key, vocal_register or band.vocal_register,
                                   rng["vocal"], answer=i % 2 == 1, end_on_tonic=i == len(section.lines) - 1,
                                   temperature=params.temperature)]
    tracks = _tracks(band, params, song.bpm, sections, chord_at, key, vocal, rng)
    played = [perform(t, song.bpm, band.swing, params.humanize, np.random.default_rng([seed, 100 + i]))
              for i, t in enumerate(tracks)]
    return Arrangement(song.title, song.bpm, key, sections, chords, played,
                       sections[-1].end_beat, TAIL_S, band.swing)


def _chords(sections: tuple[SectionPlan, ...], key: Key, rng: np.random.Generator) -> list[Chord]:
    """One chord per bar over the whole song.

    In minor keys a section turns around to the (harmonic-minor) dominant before one that starts
    on the tonic; major keys have dominants enough, and more would pull the key toward V.
    """
    templates = pick_templates(key, rng)
    chords = []
    for index, section in enumerate(sections):
        following = sections[index + 1] if index + 1 < len(sections) else None
        turnaround = following is not None and templates[following.kind][0].numeral == "i"
        chords += section_chords(templates[section.kind], section.bars, key, turnaround, following is None)
    return chords


def _tracks(band: Band, params: SketchParams, bpm: float, sections: tuple[SectionPlan, ...], chord_at: ChordAt,
            key: Key, vocal: list[Note], rng: dict[str, np.random.Generator]) -> list[Track]:
    """Tracks with their channels and mix settings (level in LU, pan 0..127); the vocal is a track too."""
    on_beat = bpm < SLOW_BPM
    tracks = [
        Track("bass", band.bass, 0, bass_part(sections, chord_at, band.drum_style, rng["bass"], on_beat),
              LEVELS_DB["bass"]),
        Track("chords", band.chords, 1, chord_part(sections, chord_at, band.chords, on_beat), LEVELS_DB["chords"], 44),
        Track("pad", band.pad, 2, pad_part(sections, chord_at), LEVELS_DB["pad"], 84),
        Track("lead", band.lead, 3,
              lead_part(sections, vocal, chord_at, key, LEAD_REGISTER, rng["lead"], params.temperature),
              LEVELS_DB["lead"], 76),
        Track("vocal", band.vocal, 4, vocal),
    ]
    if params.drums:
        tracks.insert(0, Track("drums", 0, DRUM_CHANNEL, drum_part(sections, band.drum_style, bpm),
                                    LEVELS_DB["drums"]))
    return tracks
