"""Plain words about a measured master that will not survive distribution: a true peak above 0 dBTP, clipped samples."""

from __future__ import annotations

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
