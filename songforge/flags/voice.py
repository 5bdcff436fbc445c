"""The voice against the words: a take that ends before its lyrics do, and sections with lyrics but no voice.

Vocal activity is read from the last vocal stem the plan made (frame energy against the stem's own loud frames,
so a separated stem's bleed stays under it), and held against the lyric timeline (songforge.flags.timeline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..audio.windows import frame_energy
from .flag import Flag
from .settings import VoiceLimits
from .timeline import LyricTimeline

LOUD_PERCENTILE = 95.0  # the vocal's "loud" level: robust to a few spikes, and to a voice that sings little


@dataclass(frozen=True)
class VocalActivity:
    """Whether each frame of `frame_s` seconds, from 0, is voiced: (frames,) bool."""

    frame_s: float
    voiced: np.ndarray

    @property
    def last_voiced_s(self) -> float:
        """The end of the last voiced frame; 0.0 when none is."""
        found = np.flatnonzero(self.voiced)
        return float((found[-1] + 1) * self.frame_s) if found.size else 0.0

    def voiced_share(self, spans: tuple[tuple[float, float], ...]) -> float:
        """Share of the frames whose centres lie in the spans (seconds) that are voiced; frames past the end of
        the audio count as unvoiced; 0.0 for spans holding no frame centre."""
        total = voiced = 0
        for start_s, end_s in spans:
            first = max(0, math.ceil(start_s / self.frame_s - 0.5))
            last = max(first, math.ceil(end_s / self.frame_s - 0.5))
            total += last - first
            voiced += int(self.voiced[first:last].sum())
        return voiced / total if total else 0.0


def vocal_activity(vocals: np.ndarray, sample_rate: int, limits: VoiceLimits) -> VocalActivity:
    """Frames of float (samples,) or (samples, channels) vocals within voiced_db of the vocal's loud frames (their
    95th percentile of power) and above floor_dbfs."""
    energy = frame_energy(vocals, sample_rate, limits.frame_s)
    loud = float(np.percentile(energy, LOUD_PERCENTILE)) if energy.size else 0.0
    voiced = (energy >= loud * 10 ** (limits.voiced_db / 10)) & (energy > 10 ** (limits.floor_dbfs / 10))
    return VocalActivity(limits.frame_s, voiced)


def detect_ends_early(activity: VocalActivity, duration_s: float, timeline: LyricTimeline | None,
                      unsung: list[str] | None, limits: VoiceLimits) -> Flag:
    """Raised when the voice (or the audio) stops more than tolerance_s before the last word's expected end, or
    when the engine never generated sections with lyrics (`unsung`, YuE's segments)."""
    if unsung:
        return Flag("ends_early", True, f"never generated: {', '.join(unsung)}",
                    {"unsung_sections": unsung, "source": "take.json params (YuE run_n_segments, compat)"})
    if timeline is None:
        return Flag("ends_early", False, "not checked: the take has no lyric timeline",
                    {"skipped": "the engine recorded no timed sections in take.json, so when the words end is unknown"})
    expected, last = timeline.words_end_s, min(activity.last_voiced_s, duration_s)
    raised = last < expected - limits.tolerance_s
    after = [s.label for s in timeline.sections if max(end for _, end in s.sung) > last + limits.tolerance_s]
    stops = "the audio ends" if duration_s < expected - limits.tolerance_s else "the voice stops"
    summary = (f"{stops} at {last:.1f} s, the lyrics run to {expected:.1f} s" if raised else
               f"the voice sings to {last:.1f} s, the lyrics to {expected:.1f} s")
    return Flag("ends_early", raised, summary, {
        "words_end_s": expected, "last_voiced_s": last, "audio_end_s": duration_s, "tolerance_s": limits.tolerance_s,
        "sections_after_the_voice": after if raised else [], "source": timeline.source})


def detect_voiceless_sections(activity: VocalActivity, timeline: LyricTimeline | None, limits: VoiceLimits) -> Flag:
    """Raised when a section with lyrics is voiced in less than min_voiced_share of its sung spans; each section's
    share in the evidence, the voiceless ones named."""
    if timeline is None:
        return Flag("voiceless_sections", False, "not checked: the take has no lyric timeline",
                    {"skipped": "the engine recorded no timed sections in take.json, so where each section is sung "
                                "is unknown"})
    shares = [(section, activity.voiced_share(section.sung)) for section in timeline.sections]
    voiceless = [section.label for section, share in shares if share < limits.min_voiced_share]
    summary = (f"no voice in {', '.join(voiceless)}" if voiceless else
               f"every section with lyrics is voiced (least {min(share for _, share in shares):.0%})")
    return Flag("voiceless_sections", bool(voiceless), summary, {
        "sections": [{"section": s.label, "tag": s.tag, "number": s.number, "start_s": s.start_s, "end_s": s.end_s,
                      "voiced_share": share} for s, share in shares],
        "voiceless": voiceless, "min_voiced_share": limits.min_voiced_share, "voiced_db": limits.voiced_db,
        "source": timeline.source})
