"""The band: General MIDI programs, drum style, swing and vocal register chosen from a song's tags."""

from __future__ import annotations

from dataclasses import dataclass

from ...params import SongSpec
from .params import SketchParams

VOCAL_PROGRAMS = {"choir_aahs": 52, "voice_oohs": 53, "synth_voice": 54}
# Guide-vocal registers (lowest, highest MIDI note): the contour spans most of it.
HIGH_REGISTER = (57, 76)  # A3..E5
LOW_REGISTER = (45, 64)  # A2..E4
LEAD_REGISTER = (67, 88)  # G4..E6
GENRE_SWING = 0.5

# Genre family -> default programs for (chords, pad, lead, bass) and the drum style.
_FAMILIES = {
    "pop": ((0, 89, 80, 33), "pop"),
    "electronic": ((90, 89, 81, 38), "four"),
    "rock": ((29, 48, 30, 34), "rock"),
    "acoustic": ((25, 48, 40, 32), "soft"),
    "jazz": ((4, 48, 65, 32), "soft"),
    "classical": ((0, 48, 73, 32), "soft"),
    "hiphop": ((4, 89, 80, 38), "hiphop"),
}
_GENRE_WORDS = {  # substrings of YuE genre tags -> family, first match wins
    "hip": "hiphop", "rap": "hiphop", "trap": "hiphop", "grime": "hiphop", "beats": "hiphop",
    "electr": "electronic", "house": "electronic", "techno": "electronic", "dance": "electronic",
    "disco": "electronic", "synth": "electronic", "dubstep": "electronic", "8-bit": "electronic",
    "edm": "electronic", "glitch": "electronic",
    "rock": "rock", "punk": "rock", "metal": "rock", "grunge": "rock", "core": "rock", "emo": "rock",
    "shoegaze": "rock", "folk": "acoustic", "country": "acoustic", "songwriter": "acoustic",
    "americana": "acoustic", "bluegrass": "acoustic", "celtic": "acoustic",
    "jazz": "jazz", "blues": "jazz", "soul": "jazz", "r&b": "jazz", "rnb": "jazz", "funk": "jazz",
    "lounge": "jazz", "bossa": "jazz", "swing": "jazz", "gospel": "jazz",
    "classical": "classical", "soundtrack": "classical", "orchestral": "classical", "opera": "classical",
    "choral": "classical", "ambient": "classical", "new age": "classical", "epic": "classical",
}
_SWUNG = ("jazz", "blues", "swing", "big band", "rockabilly")
# Instrument tag -> (role, program). A tag may fill more than one role.
_INSTRUMENTS = {
    "piano": (("chords", 0),), "keyboard": (("chords", 0),), "keyboards": (("chords", 0),),
    "keys": (("chords", 4),), "electric piano": (("chords", 4),), "electricpiano": (("chords", 4),),
    "organ": (("chords", 16),), "harpsichord": (("chords", 6),),
    "guitar": (("chords", 25),), "guitars": (("chords", 25),), "acoustic guitar": (("chords", 25),),
    "acousticguitar": (("chords", 25),), "nylon string guitar": (("chords", 24),), "ukulele": (("chords", 24),),
    "electric guitar": (("chords", 27), ("lead", 29)), "electricguitar": (("chords", 27), ("lead", 29)),
    "synthesizer": (("pad", 89), ("lead", 81)), "synth": (("pad", 89), ("lead", 81)),
    "synth_lead": (("lead", 80),), "strings": (("pad", 48),), "string": (("pad", 48),),
    "violin": (("lead", 40),), "fiddle": (("lead", 110),), "cello": (("lead", 42),),
    "saxophone": (("lead", 65),), "alto saxophone": (("lead", 65),), "soprano saxophone": (("lead", 64),),
    "flute": (("lead", 73),), "trumpet": (("lead", 56),), "trombone": (("lead", 57),),
    "brass": (("lead", 61),), "horns": (("lead", 61),), "horn": (("lead", 60),), "oboe": (("lead", 68),),
    "harmonica": (("lead", 22),), "accordion": (("lead", 21),), "whistle": (("lead", 78),),
    "glockenspiel": (("lead", 9),), "mallets": (("lead", 12),), "marimba": (("lead", 12),),
    "harp": (("lead", 46),), "banjo": (("lead", 105),), "sitar": (("lead", 104),), "erhu": (("lead", 110),),
    "bass": (("bass", 33),), "bass guitar": (("bass", 33),), "funky bass": (("bass", 36),),
    "synth bass": (("bass", 38),), "808 bass": (("bass", 38),),
}
_LOW_VOICES = {"male", "tenor", "baritone vocal", "bass vocal", "deep vocal", "low vocal", "tenor vocal",
               "low pitched vocal", "low-pitched vocal"}
_SOFT_TIMBRES = {"airy vocal", "soft vocal", "breathy vocal", "mellow vocal", "light vocal", "smooth vocal",
                 "warm vocal", "tender vocal", "sweet vocal", "whispery vocal", "soothing vocal", "velvet vocal"}


@dataclass(frozen=True)
class Band:
    """GM programs per role, the drum style (pop/four/rock/hiphop/soft), swing 0..1 and the vocal register."""

    chords: int
    pad: int
    lead: int
    bass: int
    vocal: int
    drum_style: str
    swing: float
    vocal_register: tuple[int, int]
    family: str


def choose_band(song: SongSpec, params: SketchParams) -> Band:
    """Programs from the instrument tags, filled in from the genre family; vocal from the voice tags."""
    family = genre_family(song.genre)
    (chords, pad, lead, bass), drum_style = _FAMILIES[family]
    roles = {"chords": chords, "pad": pad, "lead": lead, "bass": bass}
    for tag in reversed(song.instrument):  # earlier tags win
        for role, program in _INSTRUMENTS.get(tag.strip(), ()):
            roles[role] = program
    if family == "rock" and roles["chords"] == 27:
        roles["chords"] = 29  # rock wants the overdriven guitar for its chords
    swing = params.swing if params.swing is not None else (
        GENRE_SWING if any(word in g for g in song.genre for word in _SWUNG) else 0.0)
    register = LOW_REGISTER if set(song.voice) & _LOW_VOICES and "female" not in song.voice else HIGH_REGISTER
    return Band(roles["chords"], roles["pad"], roles["lead"], roles["bass"],
                _vocal_program(song, params, family), drum_style, swing, register, family)


def all_programs() -> set[int]:
    """Every GM program a band may use (the SoundFont must hold each)."""
    programs = {program for roles in _INSTRUMENTS.values() for _, program in roles}
    programs |= {program for defaults, _ in _FAMILIES.values() for program in defaults}
    return programs | set(VOCAL_PROGRAMS.values())


def genre_family(genres: list[str]) -> str:
    """The first genre tag that names a family decides it; 'pop' otherwise."""
    for genre in genres:
        for word, family in _GENRE_WORDS.items():
            if word in genre:
                return family
    return "pop"


def _vocal_program(song: SongSpec, params: SketchParams, family: str) -> int:
    if params.vocal_program != "auto":
        return VOCAL_PROGRAMS[params.vocal_program]
    if set(song.voice) & _SOFT_TIMBRES:
        return VOCAL_PROGRAMS["voice_oohs"]
    if family in ("electronic", "hiphop"):
        return VOCAL_PROGRAMS["synth_voice"]
    return VOCAL_PROGRAMS["choir_aahs"]
