"""The separate step (songforge/steps/separate.py) in a song's plan, run for real on the sketch engine with the tiny
Roformer: its settings, its place and wiring, what the mix then reads, mix-only engines, commercial albums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from separation_fixtures import LYRICS, TINY, no_network, tiny_models  # noqa: F401 (fixtures)

from songforge.album_file import load_album
from songforge.audio.io import read_audio
from songforge.errors import ParamsError
from songforge.plan import plan_song, run_plan
from songforge.preflight import check_album
from songforge.separation.models import DEFAULT_MODEL

PLUGINS = Path(__file__).resolve().parent / "plugins"


def album_of(folder: Path, song: dict | None = None, **album) -> object:
    path = folder / "album.yaml"
    song = {"title": "One", "lyrics": LYRICS, "duration_s": 12, **(song or {})}
    path.write_text(yaml.safe_dump({"title": "Separate", "songs": [song], **album}))
    return load_album(path)


@pytest.mark.parametrize("settings, field", [({"source": "stems"}, "separate.source"),
                                             ({"stems": ["vocals", "drums"]}, "separate.stems"),
                                             ({"chunk_s": 60, "overlap_s": 40}, "separate"),
                                             ({"modle": "x"}, "separate.modle")])
def test_bad_settings_name_the_field_before_anything_runs(tmp_path, settings, field):
    with pytest.raises(ParamsError) as error:
        album_of(tmp_path, {"separate": settings})
    assert f"songs[0].{field}" in str(error.value) and "Fix:" in str(error.value)


def test_the_step_sits_after_the_engine_and_the_mix_reads_its_stems(tmp_path):
    album = album_of(tmp_path, defaults={"separate": {"model": TINY}})
    plan = plan_song(album.songs[0], album)
    assert plan.names[:4] == ("lyrics", "generate", "separate", "mix")
    sources = {planned.name: dict(planned.sources) for planned in plan.steps}
    assert sources["separate"] == {"vocals": "generate", "instrumental": "generate"}  # sketch: no engine mix
    assert sources["mix"] == {"vocals": "separate", "instrumental": "separate"}
    assert ("separated vocals", "separate", "vocals") in plan.view().players
    assert "separate" not in plan_song(album_of(tmp_path).songs[0], album).names  # not asked: not planned


def test_separating_the_tracks_changes_what_the_mix_hears(tiny_models, no_network, tmp_path):
    plain = album_of(tmp_path)
    cleaned = album_of(tmp_path, {"separate": {"model": TINY, "source": "tracks"}})
    before = run_plan(plan_song(plain.songs[0], plain), tmp_path / "plain")
    said = []
    after = run_plan(plan_song(cleaned.songs[0], cleaned), tmp_path / "cleaned", lambda f, what: said.append(what))
    engine_vocals, rate = read_audio(after["generate"].path("vocals"))
    separated, separated_rate = read_audio(after["separate"].path("vocals"))
    assert after["separate"].path("vocals") == tmp_path / "cleaned" / "separated" / "vocals.wav"
    assert separated_rate == rate and separated.shape == engine_vocals.shape
    assert not np.allclose(separated, engine_vocals, atol=1e-3)  # the tiny model's guess, not the track
    mix_before, _ = read_audio(before["mix"].path("mix"))
    mix_after, _ = read_audio(after["mix"].path("mix"))
    assert mix_before.shape == mix_after.shape and not np.allclose(mix_before, mix_after, atol=1e-3)
    assert any("separating chunk 1 of 1" in what for what in said)


def test_a_stem_not_asked_for_is_passed_on_as_the_engine_made_it(tiny_models, no_network, tmp_path):
    album = album_of(tmp_path, {"separate": {"model": TINY, "stems": ["vocals"]}})
    done = run_plan(plan_song(album.songs[0], album), tmp_path / "song")
    assert done["separate"].files["instrumental"] == done["generate"].files["instrumental"]
    assert done["separate"].data["separated"] == ["vocals"] and done["separate"].data["source"] == "mix"


def test_an_engine_that_makes_only_a_mix_gets_its_stems_from_the_separation(tiny_models, no_network, tmp_path,
                                                                            monkeypatch):
    from songforge import registry

    monkeypatch.syspath_prepend(str(PLUGINS))
    import songforge_mixonly  # noqa: F401 (registers the engine)

    try:
        mixonly = {"engine": {"name": "mixonly"}}
        with pytest.raises(ParamsError, match="separate.source: is tracks, but the 'mixonly' engine makes no vocals"):
            album = album_of(tmp_path, {**mixonly, "separate": {"model": TINY, "source": "tracks"}})
            plan_song(album.songs[0], album)
        album = album_of(tmp_path, {**mixonly, "separate": {"model": TINY, "stems": ["vocals"]}})
        plan = plan_song(album.songs[0], album)
        assert dict(plan.steps[plan.names.index("separate")].sources) == {"engine_mix": "generate"}
        done = run_plan(plan, tmp_path / "song")
        mix, _ = read_audio(done["generate"].path("engine_mix"))
        vocals, _ = read_audio(done["separate"].path("vocals"))
        instrumental, _ = read_audio(done["separate"].path("instrumental"))
        assert vocals.shape == instrumental.shape == mix.shape  # both separated: the engine has no tracks
        np.testing.assert_allclose(vocals + instrumental, mix, atol=1e-4)
        assert read_audio(done["mix"].path("mix"))[0].shape == mix.shape
    finally:
        registry._engines.pop("mixonly", None)


def test_a_commercial_album_is_refused_for_a_model_whose_terms_nobody_checked(tiny_models, tmp_path):
    with pytest.raises(ParamsError, match=f"separate.*{DEFAULT_MODEL}.*nobody has checked"):
        check_album(album_of(tmp_path, {"separate": {}}, commercial=True), models=False)
    vouched = album_of(tmp_path, {"separate": {}}, commercial=True, licences_checked=[DEFAULT_MODEL])
    check_album(vouched, models=False)  # the user read the terms and vouches for them
    with pytest.raises(ParamsError, match=f"commercial: step 'separate' uses {TINY}, whose terms nobody"):
        check_album(album_of(tmp_path, {"separate": {"model": TINY}}, commercial=True,
                             licences_checked=[DEFAULT_MODEL]), models=False)
    check_album(album_of(tmp_path, {"separate": {"model": TINY}}), models=False)  # not commercial: any model


def test_a_missing_model_says_how_to_get_it_when_the_step_runs(tiny_models, no_network, tmp_path):
    from songforge.errors import EngineError

    album = album_of(tmp_path, {"separate": {}})
    plan = plan_song(album.songs[0], album)
    assert plan.steps[plan.names.index("separate")].params.model_identity == f"{DEFAULT_MODEL}:absent"
    with pytest.raises(EngineError, match=f"songforge models pull {DEFAULT_MODEL}"):
        run_plan(plan, tmp_path / "song")
