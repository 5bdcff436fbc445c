"""SketchEngine: the offline default engine; composes a guide track and renders it with a GM SoundFont,
its guide vocal sung with the words by Festival where it has the language's voice (singer.py)."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from ...licences import GPL_2
from ...params import SongSpec
from ...step import Step
from ..base import EngineParams, Progress, Stems
from ..take import generate_step
from .compose import TAIL_S, compose
from .form import min_duration_s
from .orchestra import LOW_REGISTER, choose_band
from .params import SketchParams
from .render import n_samples_of, render_stems, soundfont_sha256
from .singer import choose_singer, sing, singer_identity

VERSION = "sketch-v4"  # bump whenever the same inputs would give different audio (v4: festival sings the words)


class SketchEngine:
    """No weights, deterministic per seed: the same song, params and seed give bit-identical stems."""

    name: ClassVar[str] = "sketch"
    Params: ClassVar[type[EngineParams]] = SketchParams
    # The GM SoundFont pretty_midi ships (TimGM6mb, GPL-2.0): it covers the font, not what is rendered with it.
    steps: ClassVar[tuple[Step, ...]] = (generate_step("sketch", version="4", licence=GPL_2, also_makes=("arrangement",)),)
    tag_vocabulary: ClassVar[str | None] = "yue"  # its band and feel read YuE's genre and voice tags

    def identity(self, params: EngineParams, language: str | None = None) -> str:
        """'sketch-v4:<params hash>:<SoundFont sha256 prefix>:<who sings>', the last 'festival-<version>+<voices>'
        where festival would sing a song in `language` with these params, else 'synth' (singer.py): a take festival
        sang and one the synth voice played never share a cache entry, and festival never keys a take it cannot
        sing (sing_words off, zh/ja/ko). `language` None: a song not known, festival counted if installed."""
        assert isinstance(params, SketchParams), type(params)
        digest = hashlib.sha256(params.model_dump_json().encode()).hexdigest()[:12]
        return f"{VERSION}:{digest}:{soundfont_sha256()[:12]}:{singer_identity(language, params.sing_words)}"

    def song_identity(self, song: SongSpec) -> str:
        """The identity of `song`'s take (songforge.engine.base.take_identity): who sings depends on its language."""
        return self.identity(song.engine.params, song.language)

    def model_revision(self, params: EngineParams | None = None) -> str:
        """What stands in for weights here: the SoundFont it renders with and who may sing (for lineage)."""
        return f"soundfont-sha256:{soundfont_sha256()};singer:{singer_identity()}"

    def min_duration_s(self, song: SongSpec, params: EngineParams) -> float:
        """The shortest duration_s generate accepts for the song's lyrics at its bpm (params check it at load)."""
        assert isinstance(params, SketchParams), type(params)
        return min_duration_s(song.sections, song.bpm, TAIL_S, params.bars_per_line, song.language)

    def generate(self, song: SongSpec, params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        """44.1 kHz stereo float32 vocals and instrumental of equal length, with the arrangement in metadata
        (`singer`: who sang the guide vocal, festival and its voice or the synth voice, and why)."""
        assert isinstance(params, SketchParams), type(params)
        report = progress or (lambda fraction, step: None)
        report(0.0, "composing")
        singer = choose_singer(song.language, choose_band(song, params).vocal_register == LOW_REGISTER,
                               params.sing_words)
        arrangement = compose(song, params, seed, singer.register)
        sung = None
        if singer.kind == "festival":
            report(0.2, "singing")
            sung = sing(arrangement, singer, params.sample_rate, n_samples_of(arrangement, params.sample_rate))
        report(0.5, "rendering")
        vocals, instrumental = render_stems(arrangement, params.sample_rate, params.vocal_balance_db, params.reverb_wet,
                                            sung)
        report(1.0, "done")
        metadata = {**arrangement.metadata(), "seed": seed, "identity": self.identity(params, song.language),
                    "singer": singer.to_dict()}
        return Stems(vocals, instrumental, params.sample_rate, midi=arrangement.to_midi_bytes(), metadata=metadata)
