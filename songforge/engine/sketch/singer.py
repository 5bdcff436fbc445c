"""The guide vocal sung with words: Festival's singing mode sings each lyric syllable on its note.

Who sings: Festival, for the languages it has a voice for here (English: kal; Italian: lp, or pc for
low voices); the General MIDI synth voice otherwise (zh, ja, ko, ...), or when Festival is absent.
`Singer` says which, and `singer_identity` goes into the engine's identity so a cache never mixes them (it
names festival only for a song festival would sing: a zh take or a wordless one is the same without it).

One syllabification: the notes are numbered by the syllables of songforge.syllables (melody.py), and
Festival sings exactly those, each word as a token whose lexicon entry has that many syllables
(pronounce.py).

Festival sings a line at a time (one process per song), each line to a wave that is resampled and
placed at its first note's sample; Festival keeps the times given within the line. Durations go in
SECONDS: Festival's BEATS divide by BPM/50, not BPM/60. Its note names count A5 = 440 Hz (MIDI 69),
one octave above the usual name, hence `festival_note`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...audio.io import resample
from ...errors import EngineError
from .arrangement import Arrangement, Note
from .festival import FIX, installed_festival, run_script, scratch_dir
from .form import LinePlan
from .orchestra import LOW_REGISTER
from .pronounce import lexicon, spoken_form

log = logging.getLogger(__name__)

# language -> (voice for high registers, voice for low registers); Debian's festvox packages.
VOICES = {"en": ("kal_diphone", "kal_diphone"), "it": ("lp_diphone", "pc_diphone")}
_ACCENTED = ("it",)  # languages whose letter-to-sound rules read accented letters (the others get ASCII)
# Festival's diphone voices crash (SIGSEGV) on a pitch above about 500 Hz: B4 (MIDI 71, 494 Hz) is the top a
# song may ask of them, so a high voice sings E3..B4 (the synth voice's A3..E5 less a fourth); low voices fit.
FESTIVAL_TOP_MIDI = 71
FESTIVAL_HIGH_REGISTER = (52, FESTIVAL_TOP_MIDI)
_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_GLIDE_S = 0.015  # a sung note reaches its pitch this soon after it starts and holds it until this before it ends
_SHORTEST_S = 0.02  # a syllable is never given less time than this
_LINE_FADE_S = 0.005  # each sung line fades in and out this fast, so no line starts or ends with a click


@dataclass(frozen=True)
class Singer:
    """Who sings the guide vocal: 'festival' (its version and voice) or 'synth' (the GM voice), and why;
    `register` (lowest, highest MIDI note) is the range it can sing, None for the band's own choice."""

    kind: str
    voice: str | None
    version: str | None
    note: str
    register: tuple[int, int] | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "register": list(self.register) if self.register else None}


def choose_singer(language: str, low_voice: bool, words: bool = True) -> Singer:
    """Festival with the language's voice when both are here (and `words` is asked for); the synth voice, with
    the reason, otherwise."""
    if not words:
        return Singer("synth", None, None, "sing_words is off: the GM synth voice plays the melody without words")
    festival = installed_festival()
    voices = VOICES.get(language)
    if voices is None:
        return Singer("synth", None, None, f"festival has no voice for '{language}': the GM synth voice sings "
                      "the melody without words")
    if festival is None:
        log.warning("festival is not installed: the guide vocal is the GM synth voice, without words "
                    "(scripts/install.sh installs festival)")
        return Singer("synth", None, None, "festival is not installed (scripts/install.sh installs it): the GM "
                      "synth voice sings the melody without words")
    voice = voices[1] if low_voice else voices[0]
    if voice not in festival.voices:
        log.warning("festival lacks the voice %s: the guide vocal is the GM synth voice", voice)
        return Singer("synth", None, None, f"festival lacks the voice {voice} (scripts/install.sh installs it): "
                      "the GM synth voice sings the melody without words")
    return Singer("festival", voice, festival.version, f"festival {festival.version} sings the words ({voice})",
                  LOW_REGISTER if low_voice else FESTIVAL_HIGH_REGISTER, language)


def singer_identity(language: str | None = None, words: bool = True) -> str:
    """Who may sing a song's guide vocal, for the engine's identity: 'synth' where festival never sings it (`words`
    off, or a language it has no voice for: zh, ja, ko...), else 'festival-<version>+<the language's voices it
    has>' ('synth' with none). `language` None (no song known) counts every voice of ours."""
    if not words or (language is not None and language not in VOICES):
        return "synth"
    festival = installed_festival()
    wanted = set(VOICES[language]) if language is not None else {voice for pair in VOICES.values() for voice in pair}
    ours = sorted(wanted & (festival.voices if festival else set()))
    return "+".join([f"festival-{festival.version}", *ours]) if festival and ours else "synth"


def festival_note(midi: int) -> str:
    """Festival's name for a MIDI note: it counts A5 = 440 Hz, so its octave number is midi // 12.
    A note above FESTIVAL_TOP_MIDI (never composed for Festival) is named an octave down: it would crash it."""
    while midi > FESTIVAL_TOP_MIDI:
        midi -= 12
    return f"{_NOTE_NAMES[midi % 12]}{midi // 12}"


def sing(arrangement: Arrangement, singer: Singer, sample_rate: int, n_samples: int) -> np.ndarray:
    """The guide vocal sung by Festival: float32 (n_samples, 2), each line at its notes' times (dry, unlevelled)."""
    assert singer.kind == "festival" and singer.voice, singer
    lines = [line for section in arrangement.sections for line in section.lines if line.n_syllables]
    notes = {note.syllable: note for note in arrangement.vocal.notes}
    mono = np.zeros(n_samples, dtype=np.float32)
    if not lines:
        return np.repeat(mono[:, None], 2, axis=1)
    with scratch_dir() as scratch:
        workdir = Path(scratch)
        accents = singer.language in _ACCENTED
        keys, entries = lexicon([word for line in lines for word in line.words], singer.voice, accents, workdir)
        script = [f"(voice_{singer.voice})", "(require 'singing-mode)", *entries, _SING_DEFINE]
        for index, line in enumerate(lines):
            xml = line_xml(line, [notes[line.first_syllable + i] for i in range(line.n_syllables)], arrangement,
                           [keys[spoken_form(w, accents), len(w.syllables)] for w in line.words])
            (workdir / f"line{index}.xml").write_text(xml, encoding="ascii")
            script.append(f'(sf_sing "line{index}.xml" "line{index}")')
        run_script("\n".join(script) + "\n", workdir)
        for index, line in enumerate(lines):
            audio = _read_line(workdir, f"line{index}", sample_rate, f"line {index + 1} ('{line.text}')")
            start = int(round(arrangement.seconds(notes[line.first_syllable].beat) * sample_rate))
            _place(mono, audio, start, sample_rate)
    return np.repeat(mono[:, None], 2, axis=1)


# Singing mode's own f0 targets glide from 90 % of a note to 10 % of the next (50 ms at eighths: pitches between
# the notes, off the scale), and after a line's last syllable its f0 fell to about 100 Hz (a note nobody wrote).
# These targets hold each note's pitch to within _GLIDE_S of its edges, the last syllable to its very end.
# Singing mode times a syllable's phones by item.leafs, whose walk (to the leaf after the last, compared with
# equal?) ran on to the end of the word with the Italian voices: a first syllable shared its time with the
# next one's phones and the next note's pitch came half a note early. Leaves by daughters stay in the syllable.
# Each utterance Festival makes of a line's XML is saved as <base>_<k>.wav.
_SING_DEFINE = """(define (item.leafs si)
  (let ((daughters (item.daughters si)))
    (if daughters (apply append (mapcar item.leafs daughters)) (list si))))
(define (singing_f0_targets utt syl)
  (let ((start (item.feat syl 'syllable_start))
        (end (item.feat syl 'syllable_end))
        (freqs (mapcar parse-number (syl->freq syl)))
        (durs (syl->durations syl))
        (last_one (not (item.next (item.relation syl 'Syllable)))))
    (if freqs
        (let ((total (apply + durs)) (time start) (targets nil))
          (mapcar (lambda (d f)
                    (let ((range (* (/ d total) (- end start))) (old time))
                      (set! time (+ time range))
                      (let ((edge (if (< (* 0.1 range) GLIDE_S) (* 0.1 range) GLIDE_S)))
                        (set! targets (append targets (list (list (+ old edge) f) (list (- time edge) f)))))))
                  durs freqs)
          (if last_one (append targets (list (list end (car (last freqs))))) targets)))))
(define (sf_sing xml base)
  (set! sf_count 0)
  (set! tts_hooks (list utt.synth (lambda (utt)
     (utt.save.wave utt (format nil "%s_%d.wav" base sf_count) 'riff)
     (set! sf_count (+ 1 sf_count)))))
  (tts_file xml 'singing))""".replace("GLIDE_S", str(_GLIDE_S))


def line_xml(line: LinePlan, notes: list[Note], arrangement: Arrangement, keys: list[str]) -> str:
    """A line in Festival's singing XML, timed from its first note: per word its notes and durations in
    seconds (a word's syllables are legato; a rest after a word fills the gap to the next note)."""
    starts = [arrangement.seconds(note.beat) for note in notes]
    ends = [arrangement.seconds(note.end_beat) for note in notes]
    parts, at = [], 0
    for word, key in zip(line.words, keys):
        indices = range(at, at + len(word.syllables))
        at += len(word.syllables)
        durations = []
        for i in indices:
            following = starts[i + 1] if i + 1 < len(starts) else None
            end = ends[i] if i == indices[-1] or following is None else following
            end = end if following is None else min(end, following)
            durations.append(max(_SHORTEST_S, end - starts[i]))
        pitches = ",".join(festival_note(notes[i].pitch) for i in indices)
        seconds = ",".join(f"{d:.4f}" for d in durations)
        parts.append(f'<PITCH NOTE="{pitches}"><DURATION SECONDS="{seconds}">{key}</DURATION></PITCH>')
        last = indices[-1]
        if last + 1 < len(starts):
            rest = starts[last + 1] - starts[last] - durations[-1]
            if rest > 0.001:
                parts.append(f'<REST SECONDS="{rest:.4f}"></REST>')
    return ('<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
            '"Singing.v0_1.dtd" []>\n<SINGING BPM="60">\n' + "\n".join(parts) + "\n</SINGING>\n")


def _read_line(workdir: Path, base: str, sample_rate: int, what: str) -> np.ndarray:
    """The line's utterances, joined, mono float32 at `sample_rate`; EngineError naming the line (`what`) when
    festival wrote none (a silent line would pass for a sung one)."""
    import soundfile

    parts, rate = [], sample_rate
    for path in sorted(workdir.glob(f"{base}_*.wav"), key=lambda p: int(p.stem.rsplit("_", 1)[1])):
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        parts.append(audio[:, :1])
    if not parts:
        raise EngineError(f"sketch engine: festival exited without error but wrote no wave for {what} of the "
                          f"guide vocal. Fix: {FIX}")
    return resample(np.concatenate(parts), rate, sample_rate)[:, 0]


def _place(mono: np.ndarray, audio: np.ndarray, start: int, sample_rate: int) -> None:
    """Add `audio` into `mono` from sample `start` (cut at the end), with short fades at its ends."""
    audio = audio[: max(0, mono.size - start)].copy()
    fade = min(audio.size // 2, int(_LINE_FADE_S * sample_rate))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    mono[start:start + audio.size] += audio
