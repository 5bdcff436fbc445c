"""The review pictures (PNG size, content, refusals) and the album HTML report (escaping, players, targets)."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import matplotlib
import matplotlib.image
import numpy as np
import pytest

from songforge.errors import AudioError, ParamsError
from songforge.report import SongReport, album_report_html, meets_target, pitch_contour_png, waveform_spectrogram_png

SR = 44100
WARN_RGB = np.array([255, 159, 67]) / 255.0  # plots.WARN: frames sung off the written note
EVIL_TITLE = '<script>alert(1)</script> & "Friends"'
TARGETS = {"lufs": ("≈±0.5", -14), "true_peak_dbtp": ("≤", -1), "tempo_acc1": ("=", 1), "key_score": ("≥", 0.5)}


def _song_audio(seconds: float) -> np.ndarray:
    """A stereo test song: a plucked A-minor arpeggio over a kick every half second, fading in."""
    t = np.arange(int(seconds * SR)) / SR
    midi = np.array([57, 60, 64, 69])[(t // 0.25).astype(int) % 4]
    pluck = 0.3 * np.sin(2 * np.pi * 440.0 * 2 ** ((midi - 69) / 12) * t) * np.exp(-(t % 0.25) * 8)
    kick = 0.5 * np.sin(2 * np.pi * 55.0 * t) * np.exp(-(t % 0.5) * 25)
    fade = np.minimum(1.0, t / max(seconds / 3, 1e-3))
    return (np.stack([pluck + kick, 0.6 * pluck + kick], axis=1) * fade[:, None]).astype(np.float32)


def _read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path)


def _warn_pixels(image: np.ndarray) -> int:
    return int((np.abs(image[..., :3] - WARN_RGB).max(axis=-1) < 0.06).sum())


def _contour(notes: list[tuple[float, float, float]], offset_semitones: float) -> tuple[np.ndarray, np.ndarray]:
    """10 ms frames singing each note (+ offset), unvoiced in the gaps."""
    times_s = np.arange(0.0, 4.0, 0.01)
    midi = np.full(times_s.shape, np.nan)
    for onset_s, dur_s, note in notes:
        midi[(times_s >= onset_s + 0.02) & (times_s < onset_s + dur_s - 0.02)] = note + offset_semitones
    return times_s, midi


NOTES = [(0.0, 0.5, 57.0), (0.5, 0.5, 60.0), (1.0, 1.0, 64.0), (2.0, 0.5, 62.0), (2.5, 1.5, 60.0)]


# -- pictures -----------------------------------------------------------------------------------


def test_waveform_spectrogram_png_is_a_1400x800_picture_and_leaves_no_temp_file(tmp_path):
    rc_before = dict(matplotlib.rcParams)
    path = waveform_spectrogram_png(_song_audio(6.0), SR, tmp_path / "song.png", "Night $Drive$",
                                    sections=[(0.0, "Intro"), (2.0, "Verse $1$"), (4.5, "Chorus")])
    image = _read_png(path)
    assert image.shape[:2] == (800, 1400)
    assert image[..., :3].std() > 0.05, "the picture is (nearly) blank"
    assert [p.name for p in tmp_path.iterdir()] == ["song.png"]
    assert dict(matplotlib.rcParams) == rc_before


def test_waveform_spectrogram_png_takes_mono_and_channels_last_only(tmp_path):
    mono = _song_audio(1.0)[:, 0]
    assert _read_png(waveform_spectrogram_png(mono, SR, tmp_path / "mono.png", "mono")).shape[:2] == (800, 1400)
    with pytest.raises(AudioError, match=r"audio\.T"):
        waveform_spectrogram_png(_song_audio(1.0).T, SR, tmp_path / "bad.png", "channels first")
    with pytest.raises(AudioError, match="channels"):
        waveform_spectrogram_png(np.zeros((SR, 6), np.float32), SR, tmp_path / "bad.png", "5.1")


@pytest.mark.parametrize(
    "change, error, field",
    [
        ({"audio": np.full((SR, 2), np.nan, np.float32)}, AudioError, "NaN"),
        ({"sample_rate": 0}, ParamsError, "sample_rate"),
        ({"sample_rate": 44100.5}, ParamsError, "sample_rate"),
        ({"path": "song.jpg"}, ParamsError, "path"),
        ({"sections": [(9.0, "Coda")]}, ParamsError, r"sections\[0\]"),
        ({"sections": [("Verse", 1.0)]}, ParamsError, r"sections\[0\]"),
    ],
)
def test_waveform_spectrogram_png_refuses_bad_input_and_writes_nothing(tmp_path, change, error, field):
    args = {"audio": _song_audio(1.0), "sample_rate": SR, "path": "song.png", "title": "t", "sections": ()}
    args.update(change)
    args["path"] = tmp_path / args["path"]
    with pytest.raises(error, match=field) as caught:
        waveform_spectrogram_png(**args)
    assert "Fix:" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_pitch_contour_png_is_a_1400x800_picture(tmp_path):
    times_s, midi = _contour(NOTES, 0.1)
    image = _read_png(pitch_contour_png(times_s, midi, tmp_path / "pitch.png", "Vocal <pitch> $", notes=NOTES))
    assert image.shape[:2] == (800, 1400)
    silent = pitch_contour_png(times_s, np.full(times_s.shape, np.nan), tmp_path / "silent.png", "no voice")
    assert _read_png(silent).shape[:2] == (800, 1400)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pitch.png", "silent.png"]


def test_pitch_contour_png_marks_frames_sung_off_the_written_note(tmp_path):
    on_pitch = _read_png(pitch_contour_png(*_contour(NOTES, 0.2), tmp_path / "on.png", "on", notes=NOTES))
    off_pitch = _read_png(pitch_contour_png(*_contour(NOTES, 0.8), tmp_path / "off.png", "off", notes=NOTES))
    # Both carry the legend's orange sample; only the off-pitch picture draws orange contour too.
    assert _warn_pixels(off_pitch) > 5 * _warn_pixels(on_pitch) + 500


@pytest.mark.parametrize(
    "times_s, midi, notes, field",
    [
        (np.arange(10) * 0.01, np.full(9, 60.0), None, "midi"),
        (np.arange(10)[::-1] * 0.01, np.full(10, 60.0), None, "times_s"),
        (np.arange(10) * 0.01, np.full(10, np.inf), None, "midi"),
        (np.arange(10) * 0.01, np.full(10, 60.0), [(0.0, 0.0, 60)], r"notes\[0\]"),
        (np.arange(10) * 0.01, np.full(10, 60.0), [(0.0, 0.5)], r"notes\[0\]"),
    ],
)
def test_pitch_contour_png_refuses_bad_input(tmp_path, times_s, midi, notes, field):
    with pytest.raises(ParamsError, match=field):
        pitch_contour_png(times_s, midi, tmp_path / "pitch.png", "t", notes=notes)
    assert list(tmp_path.iterdir()) == []


# -- the HTML report ----------------------------------------------------------------------------


class _Page(HTMLParser):
    """Collects <audio> sources, table cells (class, text) per summary row, and tag balance."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "source"}

    def __init__(self, text: str):
        super().__init__()
        self.audio_src, self.rows, self.open_tags, self.unbalanced = [], [], [], []
        self._in_summary, self._cell = False, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "audio":
            self.audio_src.append(attrs["src"])
        if tag == "table":
            self._in_summary = "summary" in attrs.get("class", "")
        if self._in_summary and tag == "tr":
            self.rows.append([])
        if self._in_summary and tag == "td":
            self._cell = [attrs.get("class") or "", ""]
        if tag not in self.VOID:
            self.open_tags.append(tag)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1].append(tuple(self._cell))
            self._cell = None
        if tag == "table":
            self._in_summary = False
        if not self.open_tags or self.open_tags.pop() != tag:
            self.unbalanced.append(tag)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data


def _album(tmp_path: Path) -> tuple[list[SongReport], dict[str, list[str]]]:
    audio = {
        "Night Drive": ["01-night-drive/master.mp3", "01-night-drive/master.wav", "01-night-drive/vocals.wav", "01-night-drive/instrumental.wav"],
        EVIL_TITLE: ["02 friends/master take.mp3"],
    }
    for files in audio.values():
        for file in files:
            (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / file).write_bytes(b"")
    labels = ["master (mp3)", "master (wav)", "vocals", "instrumental"]
    songs = [
        SongReport("Night Drive", "01-night-drive", dict(zip(labels, audio["Night Drive"])), "[verse]\nHeadlights <on> the road\n",
                   ["01-night-drive/waveform.png"], {"lufs": -14.2, "true_peak_dbtp": -1.3, "tempo_acc1": 1.0, "key_score": 0.73}, TARGETS),
        SongReport(EVIL_TITLE, "02 friends", {"master (mp3)": audio[EVIL_TITLE][0]}, "[chorus]\n<b>we</b> & \"you\"\n",
                   [], {"lufs": -11.0, "true_peak_dbtp": -0.3, "tempo_acc1": 0.0, "key_score": float("nan")}, TARGETS),
    ]
    return songs, audio


def test_album_report_escapes_user_text(tmp_path):
    songs, _ = _album(tmp_path)
    text = album_report_html("Songs for <Late> Nights", songs, tmp_path / "report.html").read_text()
    assert "<script>alert(1)" not in text and "<b>we</b>" not in text and "<Late>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Friends&quot;" in text
    assert "Night Drive" in text and "Songs for &lt;Late&gt; Nights" in text
    assert "&lt;b&gt;we&lt;/b&gt; &amp; &quot;you&quot;" in text
    assert _Page(text).unbalanced == [] and _Page(text).open_tags == []


def test_album_report_has_one_player_per_audio_file_with_its_relative_src(tmp_path):
    songs, audio = _album(tmp_path)
    page = _Page(album_report_html("Album", songs, tmp_path / "report.html").read_text())
    expected = [file for files in audio.values() for file in files]
    assert [unquote(src) for src in page.audio_src] == expected
    assert all(" " not in src for src in page.audio_src), "spaces must be percent-encoded"
    assert all((tmp_path / unquote(src)).is_file() for src in page.audio_src)


def test_album_report_highlights_missed_targets_only(tmp_path):
    songs, _ = _album(tmp_path)
    text = album_report_html("Album", songs, tmp_path / "report.html").read_text()
    header, met_row, missed_row = _Page(text).rows
    assert header == []  # <th> cells only
    assert [cls for cls, _ in met_row[1:5]] == ["met"] * 4  # title, then the four targeted metrics
    assert [cls for cls, _ in missed_row[1:5]] == ["miss", "miss", "miss", "unknown"]
    assert met_row[5] == ("", "0") and missed_row[5] == ("miss", "4")
    assert "LUFS" in text and "dBTP" in text, "units belong in the headers"
    assert "http://" not in text and "https://" not in text and "<link" not in text, "the page must be self-contained"


def test_album_report_is_written_atomically(tmp_path):
    songs, _ = _album(tmp_path)
    path = album_report_html("Album", songs, tmp_path / "out" / "report.html")
    before = path.read_bytes()
    with pytest.raises(ParamsError, match="songs"):
        album_report_html("Album", [], path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"audio": {"master": "/abs/master.wav"}}, r"audio\['master'\]"),
        ({"images": ["https://example.com/x.png"]}, r"images\[0\]"),
        ({"folder": "C:\\songs\\01"}, "folder"),
        ({"targets": {"lufs": ("about", -14)}}, r"targets\['lufs'\]"),
        ({"targets": {"lufs": ("≤", "loud")}}, r"targets\['lufs'\]"),
        ({"title": None}, "title"),
    ],
)
def test_song_report_refuses_bad_fields(change, field):
    args = {"title": "t", "folder": "01-t"}
    args.update(change)
    with pytest.raises(ParamsError, match=field):
        SongReport(**args)


@pytest.mark.parametrize(
    "value, comparison, target, expected",
    [
        (-14.4, "≈±0.5", -14, True), (-13.4, "≈±0.5", -14, False), (-1.0, "≤", -1, True), (-0.9, "<=", -1, False),
        (1.0, "=", 1, True), (0.999, "=", 1, False), (0.5, "≥", 0.5, True), (0.5, ">", 0.5, False),
        (np.float32(0.6), ">=", 0.5, True), (None, "≤", -1, None), (float("nan"), "≥", 0.5, None),
    ],
)
def test_meets_target(value, comparison, target, expected):
    assert meets_target(value, comparison, target) is expected


def test_album_report_refuses_a_non_html_path(tmp_path):
    songs, _ = _album(tmp_path)
    with pytest.raises(ParamsError, match="path"):
        album_report_html("Album", songs, tmp_path / "report.txt")


def test_the_licence_of_each_judge_is_shown_under_its_numbers(tmp_path):
    songs, _ = _album(tmp_path)
    judged = replace(songs[0], metrics={**songs[0].metrics, "mulan": 0.41},
                     licences={"measure": "MIT License (MIT), commercial use: yes",
                               "mulan": "Creative Commons <NC> 4.0 (CC-BY-NC-4.0), commercial use: no"})
    text = album_report_html("Album", [judged, songs[1]], tmp_path / "report.html").read_text()
    card = text[text.index("<h3>measurements</h3>"):]
    assert card.index("0.41") < card.index("<b>mulan</b>: Creative Commons &lt;NC&gt; 4.0 (CC-BY-NC-4.0), commercial use: no")
    assert "<b>measure</b>: MIT License (MIT)" in card
    assert text.count('class="licences"') == 1  # a song with no judges' licences shows none


# -- who sang the guide vocal -------------------------------------------------------------------


def _installed_festival():
    from songforge.engine.sketch.festival import installed_festival

    return installed_festival()


@pytest.mark.parametrize("language, lyrics, sung_by", [
    ("zh", "[verse]\n城市的灯光渐渐熄灭\n我把你的信折在外套里\n",
     "guide vocal: GM synth voice, no words (festival has no voice for &#x27;zh&#x27;)"),
    pytest.param("en", "[verse]\nCity lights are fading into morning\nI keep your letters in my coat\n",
                 "guide vocal: festival {version} (kal_diphone)",
                 marks=pytest.mark.skipif(_installed_festival() is None, reason="festival is not installed "
                                          "(scripts/install.sh installs it; CI runs this)")),
])
def test_the_song_card_says_who_sang_the_guide_vocal_in_its_subtitle(tmp_path, language, lyrics, sung_by):
    """The sketch engine's real take (take.json written by its take step) on the review page: the card's subtitle,
    one line, names the singer the take recorded."""
    import re

    from songforge.album_file import album_from_dict
    from songforge.engine.take import SongTake, generate
    from songforge.plan import plan_song
    from songforge.report.album import _song_report

    spec = album_from_dict({"title": "A", "songs": [{"title": "Guide", "lyrics": lyrics, "language": language,
                                                     "duration_s": 16, "bpm": 100}]})
    song = spec.songs[0]
    take = generate(SongTake.of(song), {}, tmp_path / "01-guide")
    report = _song_report(song, {"generate": take}, tmp_path, TARGETS, plan_song(song, spec).view())
    text = album_report_html("A", [report], tmp_path / "report.html").read_text()
    subtitle = re.search(r'<p class="subtitle">(.*?)</p>', text).group(1)
    version = _installed_festival().version if language == "en" else None
    assert f"· sketch engine · {sung_by.format(version=version)} · " in subtitle, subtitle
    assert subtitle.count("guide vocal") == 1 and "<br" not in subtitle and "\n" not in subtitle
