"""One song's card on the review page: players, targets, lyrics by section, pictures with a playhead."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import quote

from ..errors import ParamsError
from .timeline import read_time_axis
from .values import format_metric, label_and_unit, meets_target, target_text

_TAG_LINE = re.compile(r"^\s*\[([^\]]*)\]\s*$")
_SECTION_KINDS = ("intro", "verse", "pre-chorus", "chorus", "bridge", "hook", "outro", "inst", "solo", "break")
_VERDICT = {True: ("met", "met"), False: ("miss", "missed"), None: ("unknown", "not measured")}


def song_card(index: int, song, report_dir: Path) -> str:
    """The card of `song` (a SongReport), the index-th of the album; report_dir resolves its files."""
    badge = {"failed": "<span class=\"chip badge failed\">failed</span>",
             "miss": f"<span class=\"chip badge miss\">{len(song.missed())} of {len(song.targets)} targets missed</span>",
             "ok": "<span class=\"chip badge ok\">all targets met</span>"}.get(song.status, "")
    folder = f"<a class=\"folder\" href=\"{href(song.folder.rstrip('/') + '/')}\">{escape(song.folder.rstrip('/'))}/</a>"
    subtitle = f"<p class=\"subtitle\">{escape(song.subtitle) + ' · ' if song.subtitle else ''}{folder}</p>"
    error = (f"<p class=\"error\"><strong>This song failed.</strong> {escape(song.error)}</p>"
             if song.error is not None else "")
    return (
        f"<section class=\"song {song.status}\" id=\"song-{index:02d}\"><header class=\"song-head\">"
        f"<span class=\"num\">{index:02d}</span><div class=\"heading\"><h2>{escape(song.title)}</h2>{subtitle}</div>{badge}</header>"
        f"{error}{_flags(song)}{_target_tiles(song)}<div class=\"song-body\"><div class=\"side\">{_players(song, report_dir)}"
        f"{_lyrics(song.lyrics, song.sections)}{_other_metrics(song)}</div><div class=\"main\">{_pictures(song, report_dir)}"
        f"</div></div></section>"
    )


def _flags(song) -> str:
    """The take's raised failure flags (the flags step's `failed` and `flags_note`), in plain sight above its numbers."""
    failed = song.metrics.get("failed")
    if not (isinstance(failed, (int, float)) and failed > 0):
        return ""
    plural = "s" if failed != 1 else ""
    return (f"<p class=\"error flags\"><strong>{failed:g} failure flag{plural} raised.</strong> "
            f"{escape(str(song.metrics.get('flags_note') or ''))} (evidence: flags.json)</p>")


def _players(song, report_dir: Path) -> str:
    if not song.audio:
        return "" if song.error is not None else "<h3>listen</h3><p class=\"empty\">no audio</p>"
    players = []
    for order, (label, file) in enumerate(song.audio.items()):
        missing = "" if (report_dir / file).is_file() else "<span class=\"missing\">missing</span>"
        players.append(f"<div class=\"player{' lead' if order == 0 else ''}\"><span class=\"label\">{escape(label)}{missing}</span>"
                       f"<audio controls preload=\"metadata\" src=\"{href(file)}\"></audio></div>")
    return "<h3>listen</h3><div class=\"players\">" + "".join(players) + "</div>"


def _target_tiles(song) -> str:
    if song.error is not None or not song.targets:
        return ""
    tiles = []
    for name, target in song.targets.items():
        value = song.metrics.get(name)
        kind, verdict = _VERDICT[meets_target(value, *target)]
        label, unit = label_and_unit(name)
        unit_html = f" <span class=\"unit\">{escape(unit)}</span>" if unit and unit != "m:ss" else ""
        tiles.append(f"<div class=\"tile {kind}\"><div class=\"label\">{escape(label)}</div>"
                     f"<div class=\"value\">{escape(format_metric(name, value))}{unit_html}</div>"
                     f"<div class=\"goal\">target {escape(target_text(target))} · <b>{verdict}</b></div></div>")
    return "<div class=\"tiles\">" + "".join(tiles) + "</div>"


def _other_metrics(song) -> str:
    names = [name for name in song.metrics if name not in song.targets and name != "flags_note"]  # shown by _flags
    if not names:
        return ""
    facts = []
    for name in names:
        label, unit = label_and_unit(name)
        unit_html = f" <span class=\"unit\">{escape(unit)}</span>" if unit and unit != "m:ss" else ""
        facts.append(f"<div><dt>{escape(label)}</dt><dd>{escape(format_metric(name, song.metrics[name]))}{unit_html}</dd></div>")
    return "<h3>measurements</h3><dl class=\"facts\">" + "".join(facts) + "</dl>" + _licences(song)


def _licences(song) -> str:
    """Under the numbers: the licence of the model (or data) each step used, the engine's and the judges' (a
    non-commercial one shows here)."""
    if not song.licences:
        return ""
    items = "".join(f"<li><b>{escape(step)}</b>: {escape(licence)}</li>" for step, licence in song.licences.items())
    what = "the licences of the models behind this song and its numbers"
    return f"<ul class=\"licences\" title=\"{what}\">{items}</ul>"


def _lyrics(text: str, sections) -> str:
    """Lyrics as blocks per [tag]; a block whose tag matches the take's next timed section plays from there."""
    blocks: list[tuple[str | None, list[str]]] = []
    for line in text.strip("\n").splitlines():
        tag = _TAG_LINE.match(line)
        if tag or not blocks:
            blocks.append((tag.group(1).strip() if tag else None, []))
        if not tag and line.strip():
            blocks[-1][1].append(line)
    blocks = [(tag, lines) for tag, lines in blocks if tag is not None or lines]
    if not blocks:
        return ""
    timed, cursor, rendered = list(sections), 0, []
    for tag, lines in blocks:
        start = None
        for at in range(cursor, len(timed)):
            if tag is not None and timed[at][1].strip().lower() == tag.lower():
                start, cursor = float(timed[at][0]), at + 1
                break
        rendered.append(_lyric_block(tag, lines, start))
    return "<h3>lyrics</h3><div class=\"lyrics\">" + "".join(rendered) + "</div>"


def _lyric_block(tag: str | None, lines: list[str], start_s: float | None) -> str:
    words = "<br>".join(escape(line) for line in lines)
    body = f"<p>{words}</p>" if words else ""
    if tag is None:
        return f"<div class=\"section\">{body}</div>"
    kind = next((k for k in _SECTION_KINDS if re.sub(r"[\s_\d]+", "", tag.lower()).startswith(k.replace("-", ""))), "other")
    if start_s is None:
        return f"<div class=\"section kind-{kind}\"><span class=\"tag\">{escape(tag)}</span>{body}</div>"
    clock = format_metric("duration_s", start_s)
    return (f"<div class=\"section kind-{kind}\" data-start=\"{start_s:.3f}\"><button type=\"button\" class=\"tag\" "
            f"title=\"play from {clock}\">{escape(tag)} <span class=\"at\">{clock}</span></button>{body}</div>")


def _pictures(song, report_dir: Path) -> str:
    if not song.images:
        return "" if song.error is not None else "<h3>pictures</h3><p class=\"empty\">no pictures</p>"
    return "<h3>pictures</h3><div class=\"pictures\">" + "".join(_picture(song, image, report_dir) for image in song.images) + "</div>"


def _picture(song, image: str, report_dir: Path) -> str:
    name = PurePosixPath(PureWindowsPath(image).as_posix()).stem
    img = f"<img src=\"{href(image)}\" alt=\"{escape(name)} of {escape(song.title)}\">"
    axis = read_time_axis(report_dir / image) if song.audio else None
    full = f"<figcaption>{escape(name)} · <a href=\"{href(image)}\">full size</a></figcaption>"
    if axis is None:
        return f"<figure class=\"picture\"><a href=\"{href(image)}\">{img}</a>{full}</figure>"
    data = (f"data-left=\"{axis.left:.5f}\" data-right=\"{axis.right:.5f}\" data-start=\"{axis.start_s:.4f}\" "
            f"data-end=\"{axis.end_s:.4f}\" style=\"--top: {axis.top * 100:.3f}%; --bottom: {axis.bottom * 100:.3f}%\"")
    return (f"<figure class=\"picture\"><div class=\"scrub\" {data} title=\"click to play from here\">{img}"
            f"<div class=\"playhead\" hidden></div></div>{full}</figure>")


def relative(file: str, field: str) -> str:
    """Refuse paths a moved report could not follow: absolute ones, and URLs."""
    text = str(file)
    if not text or PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive or "://" in text:
        raise ParamsError(field, f"'{text}' is not a relative path", "pass the path relative to the report's folder, e.g. os.path.relpath(p, report_dir)")
    return text


def href(file: str) -> str:
    """A relative path as an attribute value: '/'-separated, percent-encoded, HTML-escaped."""
    return escape(quote(PureWindowsPath(file).as_posix() if "\\" in file else file, safe="/"))
