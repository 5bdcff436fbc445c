"""Preflight of a briefed song whose lyricist runs in process (the lyricist-local step, run before the plan, so never
in it): its licence is held to a commercial album's rules and its model is looked for on disk before any work,
without contacting anything. Meta Llama 3's licence allows commercial use below a threshold (as Stability AI's)."""

from __future__ import annotations

import warnings

import pytest
import yaml

from songforge.album_file import load_album
from songforge.errors import EngineError, ParamsError
from songforge.licences import LicenceTerms
from songforge.preflight import check_album


def _album(tmp_path, **top):
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Llama words", **top, "songs": [
        {"title": "Ferry", "lyrics_brief": "the last ferry", "bpm": 96, "duration_s": 40,
         "lyricist": {"backend": "transformers", "model": "llama-3-8b-instruct"}},
        {"title": "Mine", "lyrics": "[verse]\nMy own words here\nAnd more of mine\n"}]}))
    return load_album(path)


def test_an_enterprise_album_with_an_in_process_llama_lyricist_is_refused_naming_the_licence(tmp_path):
    with pytest.raises(ParamsError) as raised:
        check_album(_album(tmp_path, commercial=True, enterprise=True), "album.yaml", models=False)
    text = str(raised.value)
    assert "step 'lyricist-local' uses Meta Llama 3 Community License" in text and "700 million" in text
    check_album(_album(tmp_path, commercial=True, enterprise=True, licences_checked=["Llama-3-Community"]),
                models=False)  # holding Meta's licence, the owner vouches for it


def test_a_commercial_album_is_told_the_llama_licences_terms_before_any_run(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_album(_album(tmp_path, commercial=True), models=False)
    terms = [str(w.message) for w in caught if issubclass(w.category, LicenceTerms)]
    assert any("lyricist-local" in t and "Built with Meta Llama 3" in t for t in terms)


def test_a_missing_in_process_lyricist_model_is_named_with_its_pull_command_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))  # nothing pulled there
    with pytest.raises(EngineError) as raised:
        check_album(_album(tmp_path), "album.yaml")
    text = str(raised.value)
    assert "songforge models pull llama-3-8b-instruct" in text and "lyricist (in process) of 'Ferry'" in text


def test_the_songs_plan_shows_its_lyricists_licence_drafted_or_not(tmp_path):
    from songforge.lyricist.brief import stand_in
    from songforge.plan import plan_song

    album = _album(tmp_path)
    briefed, own = album.songs
    drafted = briefed.model_copy(update={"lyrics": "[verse]\nWords drafted here\nAnd more of them\n",
                                         "lyrics_by": {"backend": "transformers", "model": "llama-3-8b-instruct"}})
    for song in (stand_in(briefed), drafted):
        shown = dict(plan_song(song, album).view().licences)
        assert shown["lyricist-local"].startswith("Meta Llama 3 Community License (Llama-3-Community), commercial "
                                                  "use: yes, below its revenue threshold")
    assert "lyricist-local" not in dict(plan_song(own, album).view().licences)
