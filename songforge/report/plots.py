"""Review pictures as PNGs: waveform over spectrogram, and the sung pitch over the written notes.

Matplotlib's object API only (a `Figure` per call, Agg canvas, styles set on each artist), so
nothing leaks between calls through pyplot's global state or rcParams.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FixedLocator, FuncFormatter, MultipleLocator

from ..errors import AudioError, ParamsError
from ..music import midi_to_name
from ..paths import atomic_path
from .reduce import envelope, log_spectrogram_db
from .timeline import TIME_AXIS_KEY, axis_of

WIDTH_PX, HEIGHT_PX, DPI = 1400, 800, 100
BG, PANEL, INK, MUTED, GRID = "#0f1117", "#171a23", "#e6e8ef", "#9aa1b2", "#2a2f3d"
ACCENT, ACCENT_2, WARN, NOTE = "#5ec8f2", "#b48cff", "#ff9f43", "#3ddc97"
ENVELOPE_COLUMNS = 2000  # a little over the plot width in pixels: one min/max pair per pixel
SPECTRUM_COLUMNS, SPECTRUM_ROWS = 1400, 256
LOWEST_HZ, FLOOR_DB = 30.0, -80.0
IN_TUNE_SEMITONES = 0.5  # ±50 cents: the usual "hits the note" tolerance


def waveform_spectrogram_png(
    audio: np.ndarray,
    sample_rate: int,
    path: Path,
    title: str,
    sections: Sequence[tuple[float, str]] = (),
) -> Path:
    """Write a PNG: the waveform envelope (one lane per channel) over a log-frequency spectrogram.

    audio: float (samples,) or (samples, channels) with 1 or 2 channels, full scale ±1.
    sample_rate: Hz. sections: [(start_s, label), ...] drawn as markers on both panels.
    The image is 1400x800 px; the two panels share their time axis (seconds).
    """
    path, audio = _png_path(path), _checked_audio(audio, sample_rate)
    duration_s = audio.shape[0] / sample_rate
    sections = _checked_sections(sections, duration_s)
    fig = _figure(title)
    grid = fig.add_gridspec(2, 2, height_ratios=(1, 2), width_ratios=(60, 1))
    wave_ax = fig.add_subplot(grid[0, 0])
    spec_ax = fig.add_subplot(grid[1, 0], sharex=wave_ax)
    _draw_waveform(wave_ax, audio, sample_rate)
    image = _draw_spectrogram(spec_ax, audio.mean(axis=1), sample_rate, duration_s)
    colorbar = fig.colorbar(image, cax=fig.add_subplot(grid[1, 1]))
    colorbar.set_label("dB (re. loudest bin)", color=MUTED)
    _style_axes(colorbar.ax)
    _draw_sections(wave_ax, spec_ax, sections)
    wave_ax.set_xlim(0.0, duration_s)
    wave_ax.tick_params(labelbottom=False)
    spec_ax.set_xlabel("time (s)")
    return _save(fig, path, spec_ax, wave_ax)


def pitch_contour_png(
    times_s: np.ndarray,
    midi: np.ndarray,
    path: Path,
    title: str,
    notes: Sequence[tuple[float, float, float]] | None = None,
) -> Path:
    """Write a PNG of the sung pitch (MIDI, NaN when unvoiced) over the written notes.

    times_s, midi: equal-length 1-D arrays (frame times in seconds, fractional MIDI numbers).
    notes: [(onset_s, dur_s, midi), ...] drawn as translucent bars behind the contour; frames
    more than 50 cents off the note written at that time are drawn in orange.
    """
    path, (times_s, midi) = _png_path(path), _checked_contour(times_s, midi)
    notes = _checked_notes(notes or ())
    fig = _figure(title)
    ax = fig.add_subplot(1, 1, 1)
    _style_axes(ax)
    low, high = _midi_range(midi, notes)
    _draw_piano_rows(ax, low, high)
    for onset_s, dur_s, note in notes:
        ax.add_patch(_note_bar(onset_s, dur_s, note))
    target = _written_midi(times_s, notes)
    off = np.abs(midi - target) > IN_TUNE_SEMITONES  # False where either is NaN
    ax.plot(times_s, midi, color=ACCENT, linewidth=1.8, label="sung pitch")
    if notes:
        ax.plot(times_s, np.where(off, midi, np.nan), color=WARN, linewidth=2.2, label="> 50 cents off")
        ax.plot([], [], color=NOTE, alpha=0.5, linewidth=8, label="written notes")
    _pitch_axis(ax, low, high)
    ax.set_xlim(*_time_range(times_s, notes))
    ax.set_xlabel("time (s)")
    ax.set_title(_hit_summary(midi, target), color=MUTED, fontsize=11, loc="left")
    ax.legend(loc="upper right", facecolor=PANEL, edgecolor=GRID, labelcolor=INK, fontsize=10, framealpha=0.9)
    return _save(fig, path, ax)


# -- checks -------------------------------------------------------------------------------------


def _png_path(path: Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ParamsError("path", f"'{path}' does not end in .png", "name the picture <something>.png")
    return path


def _checked_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(samples, channels) float32, or a songforge error that says what to change."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ParamsError("sample_rate", f"{sample_rate!r} is not a positive whole number of Hz", "pass e.g. 44100")
    try:
        audio = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise AudioError(f"audio: not a numeric array ({error}). Fix: pass a float numpy array shaped (samples, channels).") from error
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] not in (1, 2):
        hint = " (it looks channels-first: pass audio.T)" if audio.ndim == 2 and audio.shape[0] in (1, 2) else ""
        raise AudioError(f"audio: expected (samples,) or (samples, 1|2), got shape {audio.shape}{hint}. Fix: pass mono or stereo audio shaped (samples, channels).")
    if audio.shape[0] < 2:
        raise AudioError(f"audio: {audio.shape[0]} samples is too short to plot. Fix: pass at least a few milliseconds of audio.")
    if not np.isfinite(audio).all():
        raise AudioError("audio: contains NaN or infinite samples. Fix: find the stage that produced them (np.nan_to_num hides the bug).")
    return audio


def _checked_sections(sections: Sequence[tuple[float, str]], duration_s: float) -> list[tuple[float, str]]:
    checked = []
    for index, item in enumerate(sections):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and _is_number(item[0])):
            raise ParamsError(f"sections[{index}]", f"{item!r} is not a (start_s, label) pair", "pass e.g. [(0.0, 'Verse'), (12.5, 'Chorus')]")
        if not 0.0 <= item[0] <= duration_s:
            raise ParamsError(f"sections[{index}]", f"starts at {item[0]} s, outside the audio (0 to {duration_s:.2f} s)", "pass section starts in seconds from the start of this audio")
        checked.append((float(item[0]), str(item[1])))
    return checked


def _checked_contour(times_s: np.ndarray, midi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        times_s, midi = np.asarray(times_s, dtype=np.float64), np.asarray(midi, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ParamsError("midi", f"times_s and midi must be numeric arrays ({error})", "pass float arrays, NaN for unvoiced frames") from error
    if times_s.ndim != 1 or midi.shape != times_s.shape:
        raise ParamsError("midi", f"times_s {times_s.shape} and midi {midi.shape} must be 1-D and of equal length", "pass one MIDI value (NaN when unvoiced) per frame time")
    if times_s.size < 2 or not np.isfinite(times_s).all() or np.any(np.diff(times_s) < 0):
        raise ParamsError("times_s", "needs at least two finite, non-decreasing frame times", "pass frame times in seconds, sorted")
    if np.isinf(midi).any():
        raise ParamsError("midi", "contains infinite values", "use NaN for unvoiced frames")
    return times_s, midi


def _checked_notes(notes: Sequence[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    checked = []
    for index, item in enumerate(notes):
        ok = isinstance(item, (tuple, list)) and len(item) == 3 and all(_is_number(v) and math.isfinite(v) for v in item)
        if not ok or item[1] <= 0:
            raise ParamsError(f"notes[{index}]", f"{item!r} is not an (onset_s, dur_s > 0, midi) triple", "pass e.g. [(0.0, 0.5, 60), (0.5, 0.5, 62)]")
        checked.append((float(item[0]), float(item[1]), float(item[2])))
    return sorted(checked)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


# -- drawing ------------------------------------------------------------------------------------


def _figure(title: str) -> Figure:
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor=BG, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=0.12, w_pad=0.12)
    # parse_math=False: a title is user text, and '$' must not switch matplotlib into mathtext
    fig.suptitle(str(title), color=INK, fontsize=17, fontweight="bold", x=0.01, ha="left", parse_math=False,
                 fontfamily=title_fonts())
    return fig


# Fonts for the glyphs DejaVu Sans lacks (a title in Chinese, Japanese or Korean), used where installed;
# matplotlib falls back along the list glyph by glyph. scripts/install.sh installs WenQuanYi Zen Hei.
_CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK KR", "WenQuanYi Zen Hei", "Droid Sans Fallback")


_CJK_FILES = ("wqyzenhei", "notosanscjk", "droidsansfallback")


@functools.cache
def title_fonts() -> list[str]:
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    if not installed & set(_CJK_FONTS):  # matplotlib's font cache predates the font's install: add it
        for path in font_manager.findSystemFonts():
            if any(name in Path(path).name.lower().replace("-", "") for name in _CJK_FILES):
                font_manager.fontManager.addfont(path)
        installed = {font.name for font in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in _CJK_FONTS if name in installed)]


def _style_axes(ax: Axes) -> None:
    ax.set_facecolor(PANEL)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.tick_params(colors=MUTED, labelsize=11)
    for axis in (ax.xaxis, ax.yaxis):
        axis.label.set(color=INK, fontsize=12)


def _draw_waveform(ax: Axes, audio: np.ndarray, sample_rate: int) -> None:
    """Min/max envelope with the RMS inside it; lane centres at +1 (L) and -1 (R) for stereo."""
    _style_axes(ax)
    env = envelope(audio, sample_rate, ENVELOPE_COLUMNS)
    centres = (1.0, -1.0) if audio.shape[1] == 2 else (0.0,)
    for channel, centre in enumerate(centres):
        ax.fill_between(env.times_s, centre + env.low[:, channel], centre + env.high[:, channel], color=ACCENT, linewidth=0, step="post")
        ax.fill_between(env.times_s, centre - env.rms[:, channel], centre + env.rms[:, channel], color=ACCENT_2, linewidth=0, step="post")
        for full_scale in (centre - 1.0, centre + 1.0):
            ax.axhline(full_scale, color=GRID, linewidth=0.8)
    ax.set_ylim(min(centres) - 1.05, max(centres) + 1.05)
    ax.yaxis.set_major_locator(FixedLocator(centres))
    ax.set_yticklabels(["L", "R"] if len(centres) == 2 else ["mono"])
    ax.set_ylabel("waveform")


def _draw_spectrogram(ax: Axes, mono: np.ndarray, sample_rate: int, duration_s: float) -> AxesImage:
    """A log-frequency power spectrogram in dB, drawn as an image over time x log10(Hz)."""
    _style_axes(ax)
    db, edges_hz = log_spectrogram_db(mono, sample_rate, SPECTRUM_COLUMNS, SPECTRUM_ROWS, LOWEST_HZ)
    extent = (0.0, duration_s, math.log10(edges_hz[0]), math.log10(edges_hz[-1]))
    image = ax.imshow(np.maximum(db, FLOOR_DB), origin="lower", aspect="auto", extent=extent,
                      cmap="magma", vmin=FLOOR_DB, vmax=0.0, interpolation="antialiased")
    ticks_hz = [hz for hz in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000) if edges_hz[0] <= hz <= edges_hz[-1]]
    ax.yaxis.set_major_locator(FixedLocator([math.log10(hz) for hz in ticks_hz]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _hz_label(10.0**y)))
    ax.set_ylabel("frequency (Hz)")
    return image


def _hz_label(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


def _draw_sections(wave_ax: Axes, spec_ax: Axes, sections: list[tuple[float, str]]) -> None:
    for start_s, label in sections:
        for ax in (wave_ax, spec_ax):
            ax.axvline(start_s, color=INK, linewidth=1.0, alpha=0.7, linestyle="--")
        wave_ax.text(start_s, 1.01, f" {label}", transform=wave_ax.get_xaxis_transform(), color=INK,
                     fontsize=11, ha="left", va="bottom", parse_math=False, clip_on=False)


def _note_bar(onset_s: float, dur_s: float, midi: float) -> FancyBboxPatch:
    return FancyBboxPatch((onset_s, midi - 0.4), dur_s, 0.8, boxstyle="round,pad=0,rounding_size=0.05",
                          facecolor=NOTE, edgecolor=NOTE, alpha=0.35, linewidth=1.0, zorder=1)


def _midi_range(midi: np.ndarray, notes: list[tuple[float, float, float]]) -> tuple[float, float]:
    """The MIDI span to show: everything sung or written, a semitone of air, at least an octave."""
    values = np.concatenate([midi[np.isfinite(midi)], [note for _, _, note in notes]])
    if values.size == 0:
        return 48.0, 72.0  # nothing voiced, nothing written: C3 to C5
    low, high = math.floor(values.min()) - 1.0, math.ceil(values.max()) + 1.0
    widen = max(0.0, 12.0 - (high - low)) / 2.0
    return low - widen, high + widen


def _draw_piano_rows(ax: Axes, low: float, high: float) -> None:
    """Shade black-key rows, piano-roll style, so semitones read at a glance."""
    for row in range(math.floor(low), math.ceil(high) + 1):
        if row % 12 in (1, 3, 6, 8, 10):
            ax.axhspan(row - 0.5, row + 0.5, color="#1f2330", linewidth=0, zorder=0)


def _pitch_axis(ax: Axes, low: float, high: float) -> None:
    """Note names on the y-axis: every semitone when few fit, naturals or only Cs when many."""
    span = high - low
    names = [m for m in range(math.ceil(low), math.floor(high) + 1)]
    if span > 36:
        names = [m for m in names if m % 12 == 0]
    elif span > 20:
        names = [m for m in names if m % 12 not in (1, 3, 6, 8, 10)]
    ax.yaxis.set_major_locator(FixedLocator(names))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: midi_to_name(int(round(y)))))
    ax.yaxis.set_minor_locator(MultipleLocator(1.0))
    ax.grid(axis="y", which="major", color=GRID, linewidth=0.8)
    ax.grid(axis="x", color=GRID, linewidth=0.5, alpha=0.6)
    ax.set_ylim(low, high)
    ax.set_ylabel("pitch")


def _written_midi(times_s: np.ndarray, notes: list[tuple[float, float, float]]) -> np.ndarray:
    """The written note sounding at each frame time, NaN where none (the latest onset wins)."""
    if not notes:
        return np.full(times_s.shape, np.nan)
    onsets, durations_s, pitches = (np.array(column) for column in zip(*notes))
    ends = onsets + durations_s
    index = np.searchsorted(onsets, times_s, side="right") - 1
    sounding = (index >= 0) & (times_s < ends[np.maximum(index, 0)])
    return np.where(sounding, pitches[np.maximum(index, 0)], np.nan)


def _hit_summary(midi: np.ndarray, target: np.ndarray) -> str:
    voiced = np.isfinite(midi)
    judged = voiced & np.isfinite(target)
    if not voiced.any():
        return "no voiced frames"
    if not judged.any():
        return f"{voiced.mean():.0%} of frames voiced"
    hits = np.abs(midi[judged] - target[judged]) <= IN_TUNE_SEMITONES
    return f"{voiced.mean():.0%} of frames voiced · {hits.mean():.0%} of voiced frames under a written note are within ±50 cents"


def _time_range(times_s: np.ndarray, notes: list[tuple[float, float, float]]) -> tuple[float, float]:
    start = min([float(times_s[0])] + [n[0] for n in notes])
    end = max([float(times_s[-1])] + [n[0] + n[1] for n in notes])
    return start, max(end, start + 1e-3)


def _save(fig: Figure, path: Path, time_ax: Axes, *sharing: Axes) -> Path:
    # The constrained layout places the axes only when drawn; it lands the same way in savefig,
    # so the time axis read here is where the PNG draws it (the review page's playhead uses it).
    fig.draw_without_rendering()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, facecolor=BG, metadata={TIME_AXIS_KEY: axis_of(time_ax, *sharing).to_text()})
    return path
