"""Songs in every language a song may name: the sketch engine sings them, YuE picks its checkpoint or refuses.

Syllable totals are counted by hand (see tests/test_syllables.py for the per-word counts).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import mido
import numpy as np
import pytest
import yaml

from songforge.album_file import load_album
from songforge.engine.sketch import SketchParams, compose
from songforge.errors import ParamsError
from songforge.params import SongSpec
from songforge.registry import get_engine

ZH = "[verse]\n夏天的风吹过海边\n我们一起唱\n[chorus]\n啦啦啦 夏天\n"  # 8 + 5 + 5 characters
ZH_CHARACTERS = list("夏天的风吹过海边我们一起唱啦啦啦夏天")
SONGS = {  # language -> (title, lyrics, syllables counted by hand)
    "en": ("Morning Light", "[verse]\nCity lights are fading into morning\n[chorus]\nHold on, hold on\n", 10 + 4),
    "zh": ("夏天", ZH + "♪ ♪ ♪\n", 18),
    "ja": ("夏の空", "[verse]\nきょうはいっしょにうたおう\nラーメンとチョコレート\n[chorus]\n夏の空に歌う\n", 11 + 10 + 9),
    "ko": ("사랑", "[verse]\n사랑해 너를\n[chorus]\n나는 노래해요\n1 2 3 4\n", 5 + 6),
    "it": ("Amore", "[verse]\nIl paese è bello\nCuore e amore\n[chorus]\nAiuto, che noia\n", 7 + 6 + 6),
}


def test_a_chinese_song_sings_a_note_per_character_in_order():
    arrangement = compose(SongSpec(title="夏天", lyrics=ZH, language="zh", duration_s=20), SketchParams(), 0)
    notes = arrangement.vocal.notes
    assert [n.syllable for n in notes] == list(range(18))
    midi = mido.MidiFile(file=io.BytesIO(arrangement.to_midi_bytes()), charset="utf-8")
    lyrics = [m.text for track in midi.tracks for m in track if m.type == "lyrics"]
    assert lyrics == ZH_CHARACTERS


@pytest.mark.parametrize("language", sorted(SONGS))
def test_the_guide_vocal_sings_the_hand_counted_syllables(language):
    title, lyrics, count = SONGS[language]
    if language == "ja":
        pytest.importorskip("pykakasi", reason="kanji readings come from pykakasi (a project dependency)")
    arrangement = compose(SongSpec(title=title, lyrics=lyrics, language=language, duration_s=20), SketchParams(), 1)
    assert len(arrangement.vocal.notes) == count


def test_lines_of_digits_or_symbols_are_rests():
    lyrics = "[verse]\n1 2 3 4\nHold on\n[chorus]\n♪ ♪ ♪\nSing it now\n"
    engine = get_engine("sketch")
    stems = engine.generate(SongSpec(title="Rests", lyrics=lyrics, duration_s=12), engine.Params(), 0)
    notes = stems.metadata["vocal_notes"]
    assert len(notes) == 2 + 3
    lines = [(s, line) for s in stems.metadata["sections"] for line in s["lines"]]
    assert [line for _, line in lines] == ["1 2 3 4", "Hold on", "♪ ♪ ♪", "Sing it now"]
    arrangement = compose(SongSpec(title="Rests", lyrics=lyrics, duration_s=12), SketchParams(humanize=0.0), 0)
    plans = [line for section in arrangement.sections for line in section.lines]
    for rest in (plans[0], plans[2]):
        assert rest.n_syllables == 0 and rest.beats > 0
        assert not [n for n in arrangement.vocal.notes if rest.start_beat <= n.beat < rest.start_beat + rest.beats]


def test_a_song_of_symbols_only_renders_a_silent_guide_vocal():
    engine = get_engine("sketch")
    song = SongSpec(title="Hum", lyrics="[verse]\n1 2 3 4\n♪ ♪ ♪\n", duration_s=12)
    stems = engine.generate(song, engine.Params(), 0)
    assert stems.metadata["vocal_notes"] == [] and not np.any(stems.vocals)
    assert np.max(np.abs(stems.instrumental)) > 0.1


@pytest.mark.parametrize("language, prompted, model", [
    ("en", False, "yue-en-cot"), ("zh", False, "yue-zh-cot"), ("ja", False, "yue-jp-kr-cot"),
    ("ko", False, "yue-jp-kr-cot"), ("en", True, "yue-en-icl"), ("zh", True, "yue-zh-icl"),
    ("ja", True, "yue-jp-kr-icl"),
])
def test_yue_loads_the_stage1_checkpoint_of_the_song_language(tmp_path, language, prompted, model):
    from songforge.params import AlbumSpec
    from songforge.plan import plan_song

    params = {"prompt_audio": str(tmp_path / "prompt.wav")} if prompted else {}
    song = SongSpec(title="T", lyrics="[verse]\nla\n", language=language, engine={"name": "yue", "params": params})
    stage1 = plan_song(song, AlbumSpec(title="A", songs=[song])).steps[1]
    assert stage1.name == "yue-stage1" and stage1.params.settings.model == model  # what stage 1 loads
    assert song.engine.params.stage1_model == model


def test_yue_keeps_a_stage1_model_the_song_names(tmp_path):
    song = SongSpec(title="T", lyrics="[verse]\nla\n", language="zh",
                    engine={"name": "yue", "params": {"stage1_model": "yue-en-cot"}})
    assert song.engine.params.stage1_model == "yue-en-cot"


def _album(tmp_path: Path, **song) -> Path:
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "A", "songs": [{"title": "Amore", "lyrics": "[verse]\nCuore\n", **song}]},
                                   allow_unicode=True))
    return path


def test_yue_refuses_an_italian_song_when_the_album_loads(tmp_path):
    with pytest.raises(ParamsError) as refused:
        load_album(_album(tmp_path, language="it", engine={"name": "yue"}))
    message = str(refused.value)
    assert "songs[0].language" in message and "'it'" in message and "sketch" in message, message
    assert load_album(_album(tmp_path, language="it")).songs[0].language == "it"  # the sketch engine sings it
    own = load_album(_album(tmp_path, language="it", engine={"name": "yue", "params": {"stage1_model": "my-it"}}))
    assert own.songs[0].engine.params.stage1_model == "my-it"  # a model of one's own is the user's call


@pytest.mark.slow
def test_an_album_in_five_languages_runs_through_the_album_flow(prefect_api, tmp_path):
    from flows.album import album_flow

    pytest.importorskip("pykakasi", reason="kanji readings come from pykakasi (a project dependency)")
    songs = [{"title": title, "lyrics": lyrics, "language": language, "duration_s": 12, "bpm": 120, "seed": i}
             for i, (language, (title, lyrics, _)) in enumerate(SONGS.items())]
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "五つの言語", "concurrency": 2, "songs": songs}, allow_unicode=True))
    album = load_album(path)
    result = album_flow(album, str(tmp_path / "out"), f"sqlite:///{tmp_path / 'mlflow.db'}")

    assert not result["failed"], result["failed"]
    assert Path(result["report"]).parent.name == "五つの言語"
    for folder, (language, (title, _, count)) in zip(result["folders"], SONGS.items()):
        folder = Path(folder)
        assert folder.name.endswith(title.casefold().replace(" ", "-")), folder
        for name in ("stems/vocals.wav", "stems/instrumental.wav", "master.wav", "take.json"):
            assert (folder / name).is_file(), (language, name)
        assert len(json.loads((folder / "take.json").read_text())["vocal_notes"]) == count, language
