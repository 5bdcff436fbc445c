"""Review material for a person: PNG pictures of each song and one HTML page for the album."""

from .html import SongReport, album_report_html, meets_target
from .plots import pitch_contour_png, waveform_spectrogram_png

__all__ = ["SongReport", "album_report_html", "meets_target", "pitch_contour_png", "waveform_spectrogram_png"]
