"""Takes by several engines (issue 14: "a song's takes may name different engines; the selection rule picks"), without
the flows: `take_engines:` in a song, each take made by its engine in turn with its seed rule unchanged, bad lists
refused when the album loads (naming the field and the fix), the licence and model checks of every take's engine,
and takes.json naming each take's engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from songforge.album_file import load_album
from songforge.artifacts import output
from songforge.errors import EngineError, ParamsError
from songforge.params import SongSpec
from songforge.preflight import check_album
from songforge.select import SelectRule
from songforge.takes import engine_songs, keep_take, take_engine, take_folder, take_seed, take_song

LYRICS = "[verse]\nLittle light upon the hill\n"
RULE = [{"max": "key_score"}]
TWO = [{"name": "sketch"}, {"name": "musicgen", "params": {"top_k": 50}}]


def write(tmp_path: Path, songs: list[dict], **album) -> Path:
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Engines", "defaults": album.pop("defaults", {"lyrics": LYRICS}),
                                    "songs": songs, **album}))
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    return str(caught.value)


def test_each_take_is_made_by_the_engines_in_turn_with_its_own_seed_and_the_song_makes_one_take_per_engine():
    song = SongSpec(title="A", lyrics=LYRICS, seed=5, take_engines=TWO, select=RULE)
    assert song.takes == 2 and song.engine.name == "sketch"  # one take per engine unless `takes` says more
    three = SongSpec(title="A", lyrics=LYRICS, seed=5, take_engines=TWO, select=RULE, takes=3, retakes=1)
    assert [take_engine(three, i).name for i in range(6)] == ["sketch", "musicgen"] * 3  # retake rounds go on
    second = take_song(three, 1)
    assert second.engine.name == "musicgen" and second.engine.params.top_k == 50 and second.seed == take_seed(5, 1)
    assert second.take_engines == () and second.takes == 1 and second.select is None
    # a take is a plain song of its engine: its cache keys are those of that song written with `engine:`
    from tasks.cache import canonical

    plain = SongSpec(title="A", lyrics=LYRICS, seed=take_seed(5, 1), engine=TWO[1])
    assert canonical(second) == canonical(plain)
    assert [s.engine.name for s in engine_songs(three)] == ["sketch", "musicgen"]
    assert engine_songs(plain) == [plain]
    # a deployment's copy keeps the engines (in place of `engine`)
    dumped = three.model_dump(mode="json")
    assert "engine" not in dumped and [e["name"] for e in dumped["take_engines"]] == ["sketch", "musicgen"]
    assert SongSpec.model_validate(dumped) == three


@pytest.mark.parametrize("song, field, words", [
    ({"take_engines": [{"name": "sketch"}], "select": RULE}, "songs[0].take_engines", "list two or more"),
    ({"take_engines": "sketch", "select": RULE}, "songs[0].take_engines", "is a str, not a list"),
    ({"take_engines": TWO, "takes": 1, "select": RULE}, "songs[0].takes", "set takes to 2 or more"),
    ({"take_engines": TWO}, "songs[0].select", "is missing"),
    ({"take_engines": [{"name": "sketch"}, {"name": "musicgen", "params": {"top_k": -1}}], "select": RULE},
     "songs[0].take_engines[1].params.top_k", "a value the 'musicgen' engine accepts"),
    ({"take_engines": [{"name": "sketch"}, {"name": "nope"}], "select": RULE}, "songs[0].take_engines[1].name",
     "ace-step"),
    ({"take_engines": [{"name": "sketch"}, {"name": "stable-audio-open"}], "duration_s": 60, "select": RULE},
     "songs[0].duration_s", "take_engines[1]) renders at most 47 s. Fix: set duration_s to 47 or less"),
    ({"engine": {"name": "yue"}, "take_engines": TWO, "select": RULE}, "songs[0].engine",
     "give every take's engine under take_engines only"),
])
def test_a_bad_take_engines_list_is_refused_at_load_naming_the_field_and_the_fix(tmp_path, song, field, words):
    message = refusal(write(tmp_path, [{"title": "A", **song}]))
    line = next((line for line in message.splitlines() if f"{field}:" in line), None)
    assert line is not None and "Fix:" in line and words in line, message


def test_a_songs_own_take_engines_replace_the_defaults_engine_and_its_own_engine_the_defaults_take_engines(tmp_path):
    path = write(tmp_path, [{"title": "Both", "take_engines": TWO, "select": RULE},
                            {"title": "One", "engine": {"name": "sketch"}}],
                 defaults={"lyrics": LYRICS, "engine": {"name": "yue"}})
    both, one = load_album(path).songs
    assert [e.name for e in both.take_engines] == ["sketch", "musicgen"] and one.engine.name == "sketch"
    path = write(tmp_path, [{"title": "One", "engine": {"name": "sketch"}}],
                 defaults={"lyrics": LYRICS, "take_engines": TWO, "select": RULE})
    assert load_album(path).songs[0].take_engines == ()


def test_every_takes_engine_is_licence_checked_under_commercial(tmp_path):
    songs = [{"title": "A", "take_engines": TWO, "select": RULE}]
    check_album(load_album(write(tmp_path, songs)), models=False)  # non-commercial work may use musicgen
    with pytest.raises(ParamsError, match="musicgen-render.*CC-BY-NC-4.0.*forbids commercial use"):
        check_album(load_album(write(tmp_path, songs, commercial=True)), models=False)
    stable = [{"title": "A", "take_engines": [{"name": "sketch"}, {"name": "stable-audio-open"}], "select": RULE}]
    check_album(load_album(write(tmp_path, stable, commercial=True)), models=False)  # under the revenue threshold
    with pytest.raises(ParamsError, match="stable-audio-open"):
        check_album(load_album(write(tmp_path, stable, commercial=True, enterprise=True)), models=False)


def test_preflight_names_the_missing_models_of_every_takes_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))  # nothing pulled there
    songs = [{"title": "A", "take_engines": [{"name": "sketch"}, {"name": "musicgen"},
                                             {"name": "stable-audio-open"}], "select": RULE}]
    with pytest.raises(EngineError) as caught:
        check_album(load_album(write(tmp_path, songs)))
    assert "songforge models pull musicgen-small stable-audio-open" in str(caught.value)
    check_album(load_album(write(tmp_path, [{"title": "A", "engine": {"name": "sketch"}}])))  # sketch needs none


def test_takes_json_names_each_takes_engine_and_the_reason_names_them_when_they_differ(tmp_path):
    song = tmp_path / "01-a"
    takes = []
    for index, score in enumerate([0.4, 0.9]):
        folder = take_folder(song, index)
        folder.mkdir(parents=True)
        (folder / "master.wav").write_bytes(b"master %d" % index)
        takes.append({"master": output("master", {}, master=folder / "master.wav"),
                      "measure": output("measure", {"key_score": score})})
    kept = keep_take(SelectRule.model_validate(RULE), [5, take_seed(5, 1)], takes, ["measure"], song, [0, 1],
                     ["sketch", "musicgen"])
    record = json.loads((song / "takes.json").read_text())
    assert kept["takes"].data == record and record["kept"] == 1
    assert [t["engine"] for t in record["takes"]] == ["sketch", "musicgen"]
    assert record["reason"] == "take 2 (musicgen): highest key_score 0.9 (take 1 (sketch): 0.4)"
    assert (song / "master.wav").read_bytes() == b"master 1"
    same = keep_take(SelectRule.model_validate(RULE), [5, 6], takes, ["measure"], song, [0, 1], ["yue", "yue"])
    assert same["takes"].data["reason"].startswith("take 2: highest")  # one engine: labels as before


def test_experiment_overrides_are_refused_for_a_song_whose_takes_use_several_engines(tmp_path):
    """An override sets one engine's params: applied to `engine` alone it would silently miss the other takes."""
    from songforge.overrides import apply_overrides

    album = load_album(write(tmp_path, [{"title": "Two", "take_engines": TWO, "select": RULE},
                                        {"title": "One", "engine": {"name": "sketch"}}]))
    with pytest.raises(ParamsError, match=r"songs\[0\] \('Two'\) makes its takes with 2 engines.*Fix: set those"):
        apply_overrides(album, {"humanize": 0.1})
    one = load_album(write(tmp_path, [{"title": "One", "engine": {"name": "sketch"}}]))
    assert apply_overrides(one, {"humanize": 0.1}).songs[0].engine.params.humanize == 0.1


def test_a_rechoice_of_another_engines_take_leaves_in_the_song_folder_only_its_files_and_the_songs_own(tmp_path):
    """Take 1 (sketch: a guide melody and stems) kept, then take 2 (musicgen: a render, no stems) by another rule:
    the song folder holds take 2's files and the song's own (lyrics.txt, takes.json), none of take 1's."""
    song = tmp_path / "01-a"
    made = {0: ["master.wav", "guide.mid", "stems/vocals.wav"], 1: ["master.wav", "render.wav"]}
    takes = []
    for index, names in made.items():
        folder = take_folder(song, index)
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"%s of take %d" % (name.encode(), index))
        takes.append({"generate": output("generate", {}, **{Path(n).stem: folder / n for n in names[1:]}),
                      "master": output("master", {}, master=folder / "master.wav"),
                      "measure": output("measure", {"key_score": [0.9, 0.4][index]})})
    (song / "lyrics.txt").write_text(LYRICS)  # the song's own file, no take's output

    def song_files() -> set[str]:
        return {p.relative_to(song).as_posix() for p in song.rglob("*") if p.is_file() and "takes" not in p.parts}

    first = keep_take(SelectRule.model_validate(RULE), [5, 6], takes, ["measure"], song, [0, 1], ["sketch", "musicgen"])
    assert first["takes"].data["kept"] == 0
    assert song_files() == {"lyrics.txt", "takes.json", "master.wav", "guide.mid", "stems/vocals.wav"}
    again = keep_take(SelectRule.model_validate([{"min": "key_score"}]), [5, 6], takes, ["measure"], song, [0, 1],
                      ["sketch", "musicgen"])
    assert again["takes"].data["kept"] == 1
    assert song_files() == {"lyrics.txt", "takes.json", "master.wav", "render.wav"}
    assert (song / "master.wav").read_bytes() == b"master.wav of take 1" and not (song / "stems").exists()
    assert all(again[step].is_intact() for step in ("generate", "master"))
    assert (take_folder(song, 0) / "guide.mid").exists()  # the take folders keep every take's files


def test_a_sweep_names_songs_whose_takes_use_several_engines_apart_and_the_fix_it_names_loads(tmp_path):
    """The takes refusal's fix ('override: {takes: 1, retakes: 0}') is itself refused for take_engines (a take each):
    such a song is named apart, with a fix that loads."""
    from songforge.sweep import load_sweep

    album = write(tmp_path, [{"title": "Two", "take_engines": TWO, "select": RULE},
                             {"title": "Takes", "takes": 2, "select": RULE}, {"title": "One"}])
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"album": album.name, "seeds": [1, 2]}))
    with pytest.raises(ParamsError) as caught:
        load_sweep(sweep)
    message = str(caught.value)
    assert "'Two' make takes with several engines" in message and "'Takes'" in message.split("Fix:")[1]
    assert "songs: ['Takes', 'One']" in message and "takes: 1" not in message
    # the fix it names, then the other songs' own fix: the sweep loads
    sweep.write_text(yaml.safe_dump({"album": album.name, "seeds": [1, 2], "songs": ["Takes", "One"],
                                     "override": {"takes": 1, "retakes": 0}}))
    assert [song.title for song in load_sweep(sweep).album.songs] == ["Takes", "One"]
    alone = write(tmp_path, [{"title": "Two", "take_engines": TWO, "select": RULE}])
    sweep.write_text(yaml.safe_dump({"album": alone.name, "seeds": [1, 2]}))
    with pytest.raises(ParamsError, match="sweep a copy of the album whose song names one 'engine:'"):
        load_sweep(sweep)


def test_each_take_reads_the_tags_as_a_plain_song_of_its_engine_and_a_vocabulary_engine_refusal_names_it(tmp_path):
    """Tags are YuE's vocabulary (lower-cased) only for an engine that reads it: an ACE-Step take keeps the song's
    tags as written, so its prompt and cache key are a plain ACE-Step song's; the sketch take's are a sketch song's."""
    from tasks.cache import canonical

    tags = {"genre": ["Pop", "Rock"], "mood": ["Uplifting"], "instrument": ["Piano"], "voice": ["Female"]}
    engines = [{"name": "sketch"}, {"name": "ace-step"}]
    song = SongSpec(title="A", lyrics=LYRICS, seed=5, take_engines=engines, select=RULE, **tags)
    for index, engine in enumerate(engines):
        plain = SongSpec(title="A", lyrics=LYRICS, seed=take_seed(5, index), engine=engine, **tags)
        assert canonical(take_song(song, index)) == canonical(plain), engine
    assert take_song(song, 1).genre == ["Pop", "Rock"] and take_song(song, 0).genre == ["pop", "rock"]
    free = [{"title": "A", "take_engines": [{"name": "ace-step"}, {"name": "sketch"}], "select": RULE,
             "genre": ["dreamy bedroom pop"]}]
    message = refusal(write(tmp_path, free))
    assert "songs[0].genre[0]:" in message and "take_engines[1] ('sketch')" in message, message
    only_free = [{"title": "A", "take_engines": [{"name": "ace-step"}, {"name": "musicgen"}], "select": RULE,
                  "genre": ["dreamy bedroom pop"]}]
    assert load_album(write(tmp_path, only_free)).songs[0].genre == ["dreamy bedroom pop"]


def test_the_review_card_times_the_sections_from_the_kept_takes_engine_even_when_it_is_not_the_first(tmp_path):
    """The merged view names every engine's take.json; the card reads the one in the kept take's results."""
    from songforge.params import AlbumSpec
    from songforge.report.album import album_report
    from flows.takes import plan_view

    song = SongSpec(title="Two", lyrics=LYRICS, take_engines=TWO, select=RULE)
    album = AlbumSpec(title="Engines", songs=[song])
    view = plan_view(song, album)
    assert view.take_files == (("generate", "take"), ("musicgen-render", "take"))  # sketch's first, musicgen's
    folder = tmp_path / "out" / "01-two"
    folder.mkdir(parents=True)
    (folder / "take.json").write_text(json.dumps({"sections": [{"start_s": 3.5, "tag": "verse"}]}))
    kept = {"musicgen-render": output("musicgen-render", {}, take=folder / "take.json")}  # take 2's, musicgen's
    html = album_report(album, [kept], tmp_path / "out", [view]).path("html").read_text()
    assert 'data-start="3.500"' in html


def test_a_take_rule_is_checked_with_every_takes_engine_and_names_the_one_whose_takes_lack_the_metric(tmp_path):
    """A metric only one engine's takes make ('groove', from a step registered here that plans itself for musicgen
    songs alone): a rule over it is refused for [musicgen, sketch], naming take_engines[1], though the first makes it."""
    from songforge import registry
    from songforge.registry import register_step
    from songforge.step import Step

    groove = register_step(Step(name="groove", version="1", phase="measure", run=lambda *args: None,
                                params=lambda song, album: {} if song.engine.name == "musicgen" else None,
                                reads=("master",), metrics=True, metric_names=("groove",)))
    try:
        rule = [{"max": "groove"}]
        message = refusal(write(tmp_path, [{"title": "A", "take_engines": [{"name": "musicgen"}, {"name": "sketch"}],
                                            "select": rule}]))
        assert "songs[0].select: 'groove' is not a metric that a step of 'A' makes with take_engines[1] ('sketch')" \
            in message, message
        plain = load_album(write(tmp_path, [{"title": "A", "engine": {"name": "musicgen"}, "select": rule,
                                             "takes": 2}]))
        assert plain.songs[0].select is not None  # one engine that makes it: accepted
        both = load_album(write(tmp_path, [{"title": "A", "take_engines": [{"name": "musicgen"}, {"name": "sketch"}],
                                            "select": RULE}]))
        assert both.songs[0].take_engines  # a metric every engine makes: accepted
    finally:
        registry._steps.pop(groove.name, None)


def test_a_failed_songs_mlflow_params_name_the_competing_engines_not_the_first_as_its_engine(tmp_path):
    """A song that failed before a take was kept is closed with song_params (real sqlite MLflow store): its
    engines as `take_engines`, no `engine` (none was the song's); a plain song keeps its engine and params."""
    from mlflow.tracking import MlflowClient

    from tasks.track import TrackedRun, close_song_run, song_params

    song = SongSpec(title="A", lyrics=LYRICS, take_engines=TWO, select=RULE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    parent = client.create_run(client.create_experiment("x")).info.run_id
    run_id = close_song_run(TrackedRun(uri, parent), "A", "FAILED", "boom", song_params(song))
    params = client.get_run(run_id).data.params
    assert params["take_engines"] == "sketch, musicgen" and "engine" not in params and "engine.top_k" not in params
    plain = song_params(SongSpec(title="B", lyrics=LYRICS, engine=TWO[1]))
    assert plain["engine"] == "musicgen" and plain["engine.top_k"] == 50 and "take_engines" not in plain


def test_the_song_card_shows_the_kept_takes_engine_licence_and_the_others_as_competitors(tmp_path):
    """Takes by sketch (GPL-2.0) and musicgen (CC BY-NC 4.0), musicgen's kept: its licence is the song's, sketch's
    is listed as a competing take's engine."""
    from songforge.params import AlbumSpec
    from songforge.report.album import album_report
    from flows.takes import view_of

    song = SongSpec(title="Two", lyrics=LYRICS, take_engines=TWO, select=RULE)
    album = AlbumSpec(title="Engines", songs=[song])
    folder = tmp_path / "out" / "01-two"
    takes = []
    for index, (step, score) in enumerate([("generate", 0.4), ("musicgen-render", 0.9)]):
        made = take_folder(folder, index)
        made.mkdir(parents=True)
        (made / "take.json").write_text("{}")
        takes.append({step: output(step, {}, take=made / "take.json"),
                      "measure": output("measure", {"key_score": score, "bandwidth_hz": 9000.0})})
    kept = keep_take(SelectRule.model_validate(RULE), [5, 6], takes, ["measure"], folder, [0, 1], ["sketch", "musicgen"])
    html = album_report(album, [kept], tmp_path / "out", [view_of(song, album)]).path("html").read_text()
    licences = html[html.index('<ul class="licences"'):].split("</ul>")[0]
    assert licences.index("<b>musicgen-render</b>: Creative Commons") < licences.index(
        "<b>generate (a competing take&#x27;s engine, not kept)</b>: GNU General Public"), licences


def test_the_merged_view_holds_every_engines_steps_once_in_the_first_plans_order():
    from songforge.params import AlbumSpec
    from songforge.plan import merged_view, plan_song
    from flows.takes import plan_view

    song = SongSpec(title="Two", lyrics=LYRICS, take_engines=TWO, select=RULE)
    album = AlbumSpec(title="Engines", songs=[song])
    sketch, musicgen = (plan_song(each, album).view() for each in engine_songs(song))
    view = plan_view(song, album)
    assert view == merged_view([sketch, musicgen])
    assert view.steps == ("lyrics", "generate", "mix", "master", "measure", "flags", "plots", "musicgen-render")
    assert set(view.players) == set(sketch.players) | set(musicgen.players)
    assert view.metrics == ("measure", "flags") and len(set(view.artifacts)) == len(view.artifacts)
    assert [step for step, _ in view.licences] == ["generate", "measure", "musicgen-render"]
    assert merged_view([sketch]) == sketch
