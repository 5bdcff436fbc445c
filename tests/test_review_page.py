"""The album review page as a person meets it: headless Chromium opens a real two-song album over http and file://.

The album is made by the real steps of each song's plan (sketch engine, mix, master, measure, plots; no
Prefect), its second song mastered 6 LU quieter than the album's target so that it really misses
one. Chromium is Debian's /usr/bin/chromium driven by playwright (scripts/install.sh installs both).
"""

from __future__ import annotations

import functools
import http.server
import tempfile
import threading
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from songforge.album_file import album_from_dict
from songforge.params import MasterSpec
from songforge.paths import album_dir, song_dir
from songforge.plan import plan_song, run_plan
from songforge.report import SongReport, album_report_html
from songforge.report.album import _song_report, album_report
from songforge.report.timeline import read_time_axis

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"
SONGS = [{"title": "Little Light", "bpm": 120, "key": "C major", "seed": 1},
         {"title": "Harbor <Lights> & \"Friends\"", "bpm": 100, "key": "A minor", "seed": 2}]
QUIET_LUFS = -20.0  # song 2's master: 6 LU under the album's -14 LUFS target


@pytest.fixture(scope="module")
def album(tmp_path_factory) -> dict:
    """Two 10 s songs through every stage, and the album's report.html; returns what the tests check against."""
    out = tmp_path_factory.mktemp("review-album")
    spec = album_from_dict({"title": "Review Album", "master": {"target_lufs": -14, "true_peak_dbtp": -1},
                            "songs": [{**song, "lyrics": LYRICS, "duration_s": 10} for song in SONGS]})
    results, views = [], []
    for index, song in enumerate(spec.songs, start=1):
        folder = song_dir(out, spec.title, index, song.title)
        mastering = spec.master if index == 1 else MasterSpec(target_lufs=QUIET_LUFS, true_peak_dbtp=-1)
        plan = plan_song(song, spec.model_copy(update={"master": mastering}))
        results.append(run_plan(plan, folder))
        views.append(plan.view())
    report = album_report(spec, results, album_dir(out, spec.title), views).path("html")
    return {"spec": spec, "results": results, "report": report, "folder": report.parent}


@pytest.fixture(scope="module")
def served(album) -> str:
    """The album folder over http from the standard library's file server (no byte ranges), on a free port."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(album["folder"])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{album['report'].name}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with a new, empty profile; skips with the reason when it cannot run here."""
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}: run scripts/install.sh (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright: pip install -e '.[dev]'")
    with tempfile.TemporaryDirectory(prefix="songforge-chromium-") as profile, sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, color_scheme="dark")
        yield context
        context.close()


@pytest.fixture
def page(browser):
    """A fresh tab that records script errors and failed requests (but a missing favicon, and media
    downloads Chromium aborts itself once it has what it needs)."""
    tab = browser.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(f"script error: {error}"))
    tab.on("requestfailed", lambda r: (r.resource_type, r.failure) != ("media", "net::ERR_ABORTED")
           and tab.problems.append(f"failed ({r.failure}): {r.url}"))
    tab.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
           and tab.problems.append(f"HTTP {r.status}: {r.url}"))
    yield tab
    tab.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)", timeout=30_000)
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)


def _audio(page) -> list[dict]:
    return page.evaluate("[...document.querySelectorAll('audio')].map(a => ({src: a.getAttribute('src'), "
                         "ready: a.readyState, duration: a.duration, time: a.currentTime, paused: a.paused}))")


@pytest.mark.slow
def test_review_page_over_http_shows_every_song_and_its_players_load(album, served, page, tmp_path):
    _open(page, served)
    titles = [song.title for song in album["spec"].songs]
    assert page.locator("section.song h2").all_inner_texts() == titles
    assert page.locator(".jump a").count() == len(titles) == page.locator("table.summary tbody tr").count()

    players = _audio(page)
    durations = [result["measure"].data["duration_s"] for result in album["results"]]
    assert len(players) == 3 * len(titles), players  # master, vocals, instrumental per song
    for index, song_durations in enumerate(durations, start=1):
        for player in [p for p in players if p["src"].startswith(f"{index:02d}-")]:
            assert player["ready"] >= 1 and abs(player["duration"] - song_durations) < 0.15, player
    widths = page.evaluate("[...document.images].map(i => i.naturalWidth)")
    assert len(widths) == 2 * len(titles) and min(widths) > 0, widths
    assert page.problems == []

    picture = tmp_path / "review.png"
    page.screenshot(path=str(picture), full_page=True)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(picture)
    assert image.shape[1] == 1400 and image.shape[0] > 2000 and image[..., :3].std() > 0.05


@pytest.mark.slow
def test_review_page_highlights_the_missed_target(album, served, page):
    _open(page, served)
    lufs = [result["measure"].data["lufs"] for result in album["results"]]
    assert abs(lufs[0] + 14) <= 0.5 and abs(lufs[1] - QUIET_LUFS) <= 0.5, lufs  # the premise: song 2 really is quiet
    cells = page.locator("table.summary tbody tr td:nth-child(3)")  # song, duration, loudness
    assert page.locator("table.summary thead th:nth-child(3)").inner_text().lower().startswith("loudness")
    assert [cells.nth(i).get_attribute("class") for i in range(2)] == ["met", "miss"]
    met_color, miss_color = (cells.nth(i).evaluate("e => getComputedStyle(e).color") for i in range(2))
    assert met_color != miss_color, "a missed target must look different, not only carry a class"
    assert page.locator("#song-02 .tile.miss .label").all_text_contents() == ["loudness"]
    assert page.locator("#song-01 .tile").first.get_attribute("class") == "tile met"
    assert "miss" in page.locator("#song-02").get_attribute("class").split()
    assert "miss" in page.locator(".jump a[href='#song-02']").get_attribute("class").split()


@pytest.mark.slow
def test_review_page_from_file_loads_audio_and_pictures(album, page):
    _open(page, album["report"].as_uri())
    players = _audio(page)
    assert len(players) == 6 and all(p["ready"] >= 1 and abs(p["duration"] - 10) < 0.15 for p in players), players
    assert min(page.evaluate("[...document.images].map(i => i.naturalWidth)")) > 0
    assert page.problems == []


@pytest.mark.slow
def test_clicking_a_picture_seeks_and_the_playhead_and_lyrics_follow(album, served, page):
    # Over http from a server without byte ranges: the page must still reach the clicked time.
    _open(page, served)
    scrub = page.locator("#song-01 .scrub").first
    box, axis = scrub.bounding_box(), scrub.evaluate("e => ({...e.dataset})")
    left, right, end_s = float(axis["left"]), float(axis["right"]), float(axis["end"])
    page.mouse.click(box["x"] + box["width"] * (left + 0.5 * (right - left)), box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelector('#song-01 audio').currentTime > 0.5 * %r + 0.2" % end_s, timeout=15_000)
    played = page.evaluate("(p => [...Array(p.length).keys()].map(i => [p.start(i), p.end(i)]))"
                           "(document.querySelector('#song-01 audio').played)")
    assert abs(played[-1][0] - 0.5 * end_s) < 0.3, f"playback should start at the clicked time, played {played}"
    assert not _audio(page)[0]["paused"]

    # Pause at 6 s: the playhead stands over 6 s on the time axis, the lyric section holding 6 s is lit.
    page.evaluate("(() => { const a = document.querySelector('#song-01 audio'); a.pause(); a.currentTime = 6; })()")
    page.wait_for_timeout(300)
    head = page.locator("#song-01 .scrub .playhead").first.bounding_box()
    expected_x = box["x"] + box["width"] * (left + 6 / end_s * (right - left))
    assert abs(head["x"] + head["width"] / 2 - expected_x) < 3, (head, expected_x)
    starts = [float(s) for s in page.locator("#song-01 .lyrics .section[data-start]").evaluate_all(
        "sections => sections.map(s => s.dataset.start)")]
    assert starts, "the take's sections should time the lyrics"
    lit = page.locator("#song-01 .lyrics .section.now")
    assert lit.count() == 1 and float(lit.get_attribute("data-start")) == max(s for s in starts if s <= 6)

    # The vocals carry on where the master stopped; a lyric section's tag plays from its start.
    page.evaluate("document.querySelectorAll('#song-01 audio')[1].play()")
    page.wait_for_function("document.querySelectorAll('#song-01 audio')[1].currentTime > 5.9", timeout=15_000)
    assert _audio(page)[0]["paused"]
    page.locator("#song-01 .lyrics button.tag").first.click()
    page.wait_for_timeout(200)
    assert _audio(page)[1]["time"] < starts[0] + 1.0
    assert page.problems == []


@pytest.mark.slow
def test_plots_record_where_their_time_axis_is_drawn(album):
    # The playhead trusts this: the columns the plot draws in must be the ones the PNG says.
    for role in ("waveform", "pitch"):
        path = album["results"][0]["plots"].path(role)
        axis = read_time_axis(path)
        assert axis is not None and axis.start_s <= 0.05 and abs(axis.end_s - 10) < 0.2, axis
        pixels = matplotlib.image.imread(path)[..., :3]
        height, width = pixels.shape[:2]
        rows = pixels[int(axis.top * height) + 5: int(axis.bottom * height) - 5]
        drawn = (np.abs(rows - np.array([0x0F, 0x11, 0x17]) / 255).max(axis=-1) > 0.03).mean(axis=0) > 0.9
        columns = np.flatnonzero(drawn)
        assert abs(columns.min() - axis.left * width) <= 2 and abs(columns.max() - axis.right * width) <= 2, role


def test_read_time_axis_ignores_other_pictures(tmp_path):
    plain = tmp_path / "plain.png"
    matplotlib.image.imsave(plain, np.zeros((4, 4, 3)))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert read_time_axis(plain) is None
    assert read_time_axis(tmp_path / "broken.png") is None
    assert read_time_axis(tmp_path / "absent.png") is None


def test_a_failed_song_shows_its_reason_in_the_overview_and_its_card(tmp_path):
    spec = album_from_dict({"title": "A", "songs": [{"title": "Fine", "lyrics": LYRICS}, {"title": "Broken", "lyrics": LYRICS}]})
    targets = {"lufs": ("≈±0.5", -14)}
    view = plan_song(spec.songs[1], spec).view()
    failed = _song_report(spec.songs[1], {"error": "lyrics: no <verse> & no fix"}, tmp_path, targets, view)
    assert failed.error == "lyrics: no <verse> & no fix" and failed.status == "failed" and failed.audio == {}
    fine = SongReport("Fine", "01-fine", metrics={"lufs": -14.1, "duration_s": 31.0}, targets=targets)
    text = album_report_html("A", [fine, failed], tmp_path / "report.html").read_text()
    reason = "lyrics: no &lt;verse&gt; &amp; no fix"
    assert text.count(reason) == 2  # the overview row and the card
    assert "<td class=\"reason\"" in text and "1 failed" in text and "1 of 1 meet every target" in text
    assert "section class=\"song failed\" id=\"song-02\"" in text and "<audio" not in text.split("id=\"song-02\"")[1]


def test_links_markdown_links_the_report_and_names_a_local_run(tmp_path):
    from tasks.track import TrackedRun, links_markdown

    report = tmp_path / "my album" / "report.html"
    text = links_markdown(TrackedRun(f"sqlite:///{tmp_path / 'mlflow.db'}", "abc123"), report)
    assert f"]({report.resolve().as_uri()})" in text and "%20" in report.resolve().as_uri()
    assert "`abc123`" in text and "mlflow ui" in text
