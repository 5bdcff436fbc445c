"""Plain words about a measured master: peaks that will not survive distribution (a true peak above 0 dBTP,
clipped samples), and the failure flags it raised."""

from __future__ import annotations

from ..flags.flag import Flag
from .metrics import SongMetrics

TRUE_PEAK_LIMIT_DBTP = 0.0  # above this the inter-sample peaks overload a DAC and every lossy encoder


def peak_warnings(metrics: SongMetrics) -> list[str]:
    """One sentence per problem of the master's peaks (what it is, what it does, the fix); [] when none."""
    warnings = []
    if metrics.true_peak_dbtp > TRUE_PEAK_LIMIT_DBTP:
        warnings.append(f"true peak {metrics.true_peak_dbtp:+.1f} dBTP: above 0 dBTP, it will distort after lossy "
                        "encoding (MP3, AAC) and on playback; lower the master's ceiling (master.true_peak_dbtp, "
                        "e.g. -1) or the limiter's input")
    if metrics.clipped_samples > 0:
        seconds = metrics.clipped_samples / max(metrics.duration_s, 1e-9)
        warnings.append(f"{metrics.clipped_samples:,} clipped samples ({seconds:,.0f} a second on average): the "
                        "waveform is cut flat at full scale, which sounds as distortion; lower the gain before "
                        "the limiter, or re-render from a source that was not clipped")
    return warnings


# What each raised flag means for the song and what to do, after its own summary (the evidence, in numbers).
FLAG_ADVICE = {
    "silence": ("the song is silent or nearly so", "check the engine's output and the mix's gains"),
    "clipping": ("the audio is clipped", "lower the gain where it clipped, or re-render the take"),
    "ends_early": ("the song ends before its lyrics do", "generate the take again (another seed, or all its "
                   "segments)"),
    "voiceless_sections": ("sections with lyrics have no voice", "generate the take again, or check the vocal "
                           "stem's separation"),
    "loop": ("the song is stuck in a loop", "generate the take again with another seed"),
}


def flag_warnings(flags: list[Flag]) -> list[str]:
    """One sentence per raised failure flag (what failed, its evidence, the fix); [] when none is raised."""
    return [f"failure flag {flag.name}: {FLAG_ADVICE[flag.name][0]} ({flag.summary}); {FLAG_ADVICE[flag.name][1]}"
            for flag in flags if flag.raised]
