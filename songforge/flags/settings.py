"""The thresholds of the failure flags: what a song (or an album's defaults) may tune as `flags: {...}`."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..audio.spectrum import CLIP_MIN_RUN, CLIP_THRESHOLD
from ..params import Frozen


class SilenceLimits(Frozen):
    """A take is near-silent when its mix is quieter than max_lufs overall, or when most of it is silent."""

    max_lufs: float = Field(-45.0, ge=-90, le=-10, description="integrated loudness (LUFS) of the mix below which "
                            "the whole take counts as near-silent")
    silent_lufs: float = Field(-50.0, ge=-90, le=-10, description="a 3 s stretch quieter than this (short-term "
                               "LUFS) is silent")
    max_silent_share: float = Field(0.5, gt=0, le=1, description="share of the take's 3 s stretches that may be "
                                    "silent, 0 to 1")


class ClippingLimits(Frozen):
    """Clipped runs: samples held at full scale, or flat at a signal's own peak (a decoder's clamp below full
    scale), for at least min_run_samples in a row."""

    full_scale: float = Field(CLIP_THRESHOLD, gt=0, le=1, description="|sample| at or above this is at full scale")
    min_run_samples: int = Field(CLIP_MIN_RUN, ge=2, le=1000, description="consecutive samples that make a clip")
    plateau_min_peak: float = Field(0.5, gt=0, le=1, description="a signal whose peak is at least this is checked "
                                    "for flat tops at its own peak (clamped below full scale)")
    max_runs: int = Field(10, ge=0, description="clipped runs a signal may have before the flag is raised")


class VoiceLimits(Frozen):
    """Vocal activity (frames of the last vocal stem) held against the lyric timeline."""

    frame_s: float = Field(0.05, gt=0.005, le=1, description="length of an activity frame in seconds")
    voiced_db: float = Field(-30.0, ge=-80, le=-3, description="a frame is voiced within this many dB of the "
                             "vocal's loud frames (their 95th percentile)")
    floor_dbfs: float = Field(-70.0, ge=-120, le=-20, description="frames quieter than this are never voiced")
    min_voiced_share: float = Field(0.25, ge=0, le=1, description="a section with lyrics whose sung spans are "
                                    "voiced less than this share is voiceless, 0 to 1")
    tolerance_s: float = Field(3.0, ge=0, le=60, description="the voice may stop this long before the lyrics' "
                               "expected end")


class LoopLimits(Frozen):
    """Loops: stretches where the audio repeats itself one period later, near-identically, many times over."""

    similarity: float = Field(0.97, gt=0, le=1, description="cosine of chroma and MFCC features above which two "
                              "moments are near-identical")
    min_period_s: float = Field(1.0, gt=0, le=30, description="the shortest loop looked for, in seconds (shorter "
                                "lags would find every held note)")
    max_period_s: float = Field(12.0, gt=0, le=60, description="the longest loop looked for, in seconds")
    min_repeats: float = Field(8.0, ge=2, description="repeats of one unit always allowed")
    form_factor: float = Field(2.0, ge=1, description="repeats allowed per line the lyrics repeat in a row")

    @model_validator(mode="after")
    def _periods(self) -> "LoopLimits":
        if self.max_period_s <= self.min_period_s:
            raise ValueError(f"max_period_s ({self.max_period_s:g}) is not above min_period_s ({self.min_period_s:g})")
        return self


class FlagSettings(Frozen):
    """`flags:` on a song or in an album's defaults: the thresholds of each failure flag."""

    silence: SilenceLimits = Field(default_factory=SilenceLimits)
    clipping: ClippingLimits = Field(default_factory=ClippingLimits)
    voice: VoiceLimits = Field(default_factory=VoiceLimits)
    loop: LoopLimits = Field(default_factory=LoopLimits)
