"""songforge.song_edit without running anything: a song folder read back as its song, the edit planned as the song's
own plan with the engine's repaint step in place of its render, a song of an engine that cannot edit refused in
one paragraph naming it and those that can, bad requests named, and an edit's folder found again for the same
request. Song folders are written by the project's own writers (write_take, build_manifest) on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ace_step_tiny import write_tiny_ace_step

from songforge.engine.base import Stems
from songforge.engine.take import write_take
from songforge.errors import ParamsError, SongforgeError
from songforge.lineage import build_manifest
from songforge.params import AlbumSpec, MasterSpec, SongSpec, album_settings
from songforge.paths import write_json
from songforge.plan import plan_song
from songforge.artifacts import file_sha256
from songforge.audio.io import write_wav
from songforge.song_edit import EditRequest, claim, edit_folder, edit_record, plan_edit, request_for
from songforge.song_folder import read_song_folder

LYRICS = "[verse]\nLittle light upon the hill\n\n[chorus]\nLanterns in the rain\n"
RATE = 48000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_ace_step(tmp_path_factory.mktemp("models") / "tiny-ace")


def song_folder(folder: Path, song: SongSpec, seconds: float = 12.0, settings: dict | None = None) -> Path:
    """A song's folder as the album flow leaves it, as far as an edit reads it: take.json (with the engine's
    lyrics), the engine's mix and manifest.json."""
    audio = np.random.default_rng(0).normal(0, 0.1, (int(seconds * RATE), 2)).astype(np.float32)
    take = write_take(Stems(np.zeros_like(audio), audio, RATE, mix=audio, metadata={"lyrics": song.lyrics}), folder,
                      song.engine.engine.identity(song.engine.params), song.seed)
    manifest = build_manifest(song, {"render": take}, song_dir=folder, code={}, master=MasterSpec(target_lufs=-12),
                              runs={"mlflow": {"run_id": "abc", "parent_run_id": "def"}}, settings=settings)
    write_json(folder / "manifest.json", manifest)
    return folder


def ace_song(model: Path, **fields) -> SongSpec:
    return SongSpec(title="Lanterns", lyrics=LYRICS, duration_s=12, seed=3, bpm=96, genre=["dreamy synth-pop"],
                    engine={"name": "ace-step", "params": {"model": str(model), "inference_steps": 2}}, **fields)


def test_a_song_folder_reads_back_as_its_song_and_the_edit_plans_repaint_in_place_of_render(tiny, tmp_path):
    song = ace_song(tiny, mood=["wistful"])
    folder = song_folder(tmp_path / "01-lanterns", song)
    original = read_song_folder(folder)
    assert original.song == song and original.master.target_lufs == -12 and original.run_id == "abc"
    assert original.duration_s == 12

    job = plan_edit(folder, request_for(original, 4, 7, None, None, None))
    own = plan_song(song, AlbumSpec(title="x", songs=[song]))
    assert "render" in own.names and "repaint" not in own.names  # never in a song's own plan
    assert job.plan.names == tuple("repaint" if name == "render" else name for name in own.names)
    repaint = job.plan.steps[job.plan.names.index("repaint")]
    assert repaint.step.key == "ace-step/repaint" and repaint.params.seed == 4  # the song's seed + 1
    assert repaint.params.source == (folder / "stems" / "engine_mix.wav").resolve()
    assert job.folder == folder / "edits" / "01-4-7" and job.album.master.target_lufs == -12

    new_words = "[verse]\nLittle light upon the hill\n\n[chorus]\nLanterns on the lane\n"
    worded = plan_edit(folder, request_for(original, 4, 7, None, new_words, 9))
    assert worded.song.lyrics == new_words and worded.plan.steps[0].params.lyrics.endswith("on the lane\n")
    longer = plan_edit(folder, request_for(original, None, None, 20, None, None))
    assert longer.song.duration_s == 32 and longer.folder.name == "01-extend-20"


def test_an_edit_folder_is_found_again_for_the_same_request_and_numbered_after_the_others(tmp_path):
    first, take = EditRequest(start_s=4, end_s=7, seed=1), "a" * 64
    assert edit_folder(tmp_path, first, take) == tmp_path / "edits" / "01-4-7"
    write_json(tmp_path / "edits" / "01-4-7" / "edit.json", edit_record(first, take))
    assert edit_folder(tmp_path, first, take) == tmp_path / "edits" / "01-4-7"
    other_seed = first.model_copy(update={"seed": 2})
    assert edit_folder(tmp_path, other_seed, take) == tmp_path / "edits" / "02-4-7"
    assert edit_folder(tmp_path, first, "b" * 64) == tmp_path / "edits" / "02-4-7"  # the take changed since
    extension = EditRequest(start_s=12, end_s=32, extend_s=20, seed=1)
    (tmp_path / "edits" / "02-4-7").mkdir()  # an edit under way whose edit.json is not written yet: taken
    assert edit_folder(tmp_path, extension, take) == tmp_path / "edits" / "03-extend-20"
    (tmp_path / "edits" / "100-4-7").mkdir()  # past 99 the numbers take three digits, and count on
    assert edit_folder(tmp_path, extension, take) == tmp_path / "edits" / "101-extend-20"


def test_an_edit_of_a_changed_original_gets_a_new_number_not_the_earlier_edits_folder(tiny, tmp_path):
    folder = song_folder(tmp_path / "01-lanterns", ace_song(tiny))
    request = request_for(read_song_folder(folder), 1, 2, None, None, 5)
    first = plan_edit(folder, request)
    claim(first)
    assert json.loads((first.folder / "edit.json").read_text())["source_sha256"] == file_sha256(
        folder / "stems" / "engine_mix.wav")
    assert plan_edit(folder, request).folder == first.folder  # the same take: the same folder
    write_wav(folder / "stems" / "engine_mix.wav", np.zeros((12 * RATE, 2), np.float32), RATE)  # remade since
    again = plan_edit(folder, request)
    assert again.folder.name == "02-1-2" and again.source_sha256 != first.source_sha256


def test_a_song_of_another_engine_is_refused_naming_it_and_the_engines_that_edit(tmp_path):
    song = SongSpec(title="Sketch", lyrics=LYRICS, duration_s=12, engine={"name": "sketch"})
    folder = song_folder(tmp_path / "01-sketch", song)
    with pytest.raises(SongforgeError) as refused:
        plan_edit(folder, EditRequest(start_s=1, end_s=2, seed=0))
    text = str(refused.value)
    assert "made by the 'sketch' engine, which cannot edit" in text and "ace-step" in text and "Fix:" in text
    assert "\n" not in text  # one paragraph
    assert not (folder / "edits").exists()


def test_bad_requests_and_folders_are_named(tiny, tmp_path):
    folder = song_folder(tmp_path / "01-lanterns", ace_song(tiny))
    original = read_song_folder(folder)
    cases = [((None, None, None, None, None), "--from/--to/--extend"), ((1, 2, 3, None, None), "--from/--to/--extend"),
             ((1, None, None, None, None), "--to"), ((None, None, -2, None, None), "--extend"),
             ((None, None, 590, None, None), "--extend"), ((1, 2, None, "words without tags", None), "--lyrics")]
    for args, field in cases:
        with pytest.raises(ParamsError) as bad:
            request_for(original, *args)
        assert bad.value.field == field, (args, bad.value)
    with pytest.raises(ParamsError, match="--to: is 3.0 s, not after"):
        plan_edit(folder, request_for(original, 5, 3, None, None, None))
    lyrics_file = tmp_path / "new.txt"
    lyrics_file.write_text("[chorus]\nLanterns on the lane\n")
    assert request_for(original, 1, 2, None, str(lyrics_file), None).lyrics == "[chorus]\nLanterns on the lane\n"

    with pytest.raises(ParamsError, match="is not a finished song's folder \\(no manifest.json\\)"):
        read_song_folder(tmp_path)
    (folder / "stems" / "engine_mix.wav").unlink()
    with pytest.raises(ParamsError, match="has no stems/engine_mix.wav"):
        plan_edit(folder, request_for(original, 1, 2, None, None, None))


def test_claim_writes_what_the_folder_holds(tiny, tmp_path):
    folder = song_folder(tmp_path / "01-lanterns", ace_song(tiny))
    job = plan_edit(folder, request_for(read_song_folder(folder), 1, 2, None, None, 5))
    assert claim(job) == job.folder
    assert json.loads((job.folder / "edit.json").read_text()) == edit_record(job.request, job.source_sha256)
    assert plan_edit(folder, job.request).folder == job.folder  # the same edit again: the same folder


def test_a_folder_another_edit_took_meanwhile_is_not_claimed(tiny, tmp_path):
    folder = song_folder(tmp_path / "01-lanterns", ace_song(tiny))
    original = read_song_folder(folder)
    mine, theirs = (plan_edit(folder, request_for(original, 1, 2, None, None, seed)) for seed in (5, 6))
    assert mine.folder == theirs.folder  # both planned before either claimed it
    claim(theirs)
    with pytest.raises(SongforgeError, match="holds another edit"):
        claim(mine)
    assert plan_edit(folder, mine.request).folder.name == "02-1-2"


def _claim_behind(barrier, job, results) -> None:
    """A forked process's claim of `job`, started with the others at the barrier: 'claimed' or the refusal."""
    barrier.wait()
    try:
        claim(job)
        results.put("claimed")
    except SongforgeError as error:
        results.put(str(error))


def test_of_edits_started_at_once_exactly_one_claims_the_folder(tiny, tmp_path):
    """Processes (forked: real parallel claims on the filesystem) each with another seed's edit planned into the same
    folder claim it at once behind a barrier; over several rounds, exactly one claims each folder."""
    import multiprocessing

    folder = song_folder(tmp_path / "01-lanterns", ace_song(tiny))
    original = read_song_folder(folder)
    context = multiprocessing.get_context("fork")
    for round_ in range(5):
        jobs = [plan_edit(folder, request_for(original, 1, 2 + round_, None, None, seed)) for seed in range(4)]
        assert len({job.folder for job in jobs}) == 1  # all planned before any claimed it
        barrier, results = context.Barrier(len(jobs)), context.Queue()
        workers = [context.Process(target=_claim_behind, args=(barrier, job, results)) for job in jobs]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        outcomes = [results.get(timeout=5) for _ in jobs]
        assert outcomes.count("claimed") == 1, outcomes
        assert all("holds another edit" in outcome for outcome in outcomes if outcome != "claimed")
        taken = json.loads((jobs[0].folder / "edit.json").read_text())
        assert taken in [edit_record(job.request, job.source_sha256) for job in jobs]


def test_bad_requests_past_the_first_checks_are_named_by_the_option_typed(tiny, tmp_path):
    """Not-a-number and infinite seconds, a range ending past the longest song, a negative seed: each a ParamsError
    naming the option (never pydantic's traceback, never a song longer than a song may last)."""
    original = read_song_folder(song_folder(tmp_path / "01-lanterns", ace_song(tiny)))
    nan, inf = float("nan"), float("inf")
    cases = [((nan, 2, None), "--from"), ((1, inf, None), "--to"), ((None, None, nan), "--extend"),
             ((None, None, inf), "--extend"), ((1, 700, None), "--to"), ((1, 2, None, None, -1), "--seed")]
    for args, option in cases:
        with pytest.raises(ParamsError) as bad:
            request_for(original, *args, *(None, None)[:5 - len(args)])
        assert bad.value.field == option, (args, bad.value)
        assert "Fix:" in str(bad.value) and "validation error" not in str(bad.value)
    with pytest.raises(ParamsError, match="^--from: is 13.0 s, outside the take"):
        plan_edit(original.folder, request_for(original, 13, 14, None, None, None))


def test_new_lyrics_that_fit_no_song_are_refused_as_at_load(tmp_path):
    """The edited song is validated as a song is, the lyrics fit check included (sketch counts its syllables)."""
    from songforge.song_edit import edited_song

    original = read_song_folder(song_folder(tmp_path / "01-sketch", SongSpec(
        title="Sketch", lyrics=LYRICS, duration_s=12, engine={"name": "sketch"})))
    endless = "[verse]\n" + "Little light upon the hill and shining on and shining still\n" * 400
    with pytest.raises(ParamsError) as refused:
        edited_song(original, EditRequest(start_s=1, end_s=2, seed=0, lyrics=endless))
    assert refused.value.field == "--lyrics" and "too long for any song" in refused.value.problem


def test_a_song_whose_reference_file_moved_is_named_with_the_fix(tiny, tmp_path):
    reference = write_wav(tmp_path / "ref.wav", np.zeros((RATE, 2), np.float32), RATE)
    song = SongSpec.model_validate({**ace_song(tiny).model_dump(), "engine": {
        "name": "ace-step", "params": {"model": str(tiny), "reference_audio": str(reference)}}})
    folder = song_folder(tmp_path / "01-lanterns", song)
    reference.unlink()
    with pytest.raises(ParamsError) as moved:
        read_song_folder(folder)
    assert moved.value.field == "params.engine.params.reference_audio", moved.value
    assert moved.value.source == str(folder / "manifest.json")
    assert "does not exist" in moved.value.problem and "put the file back" in moved.value.fix


def test_an_edit_of_a_planner_song_needs_no_planner_and_its_take_is_not_called_planned(tiny, tmp_path):
    song = SongSpec.model_validate({**ace_song(tiny).model_dump(), "engine": {"name": "ace-step", "params": {
        "model": str(tiny), "inference_steps": 2, "planner": {"enabled": True, "model": str(tmp_path / "no-lm")}}}})
    folder = song_folder(tmp_path / "01-lanterns", song)
    take = json.loads((folder / "take.json").read_text())
    write_json(folder / "take.json", {**take, "planned": True})  # as the render writes it after a plan step
    job = plan_edit(folder, request_for(read_song_folder(folder), 4, 5, None, None, None))
    params = job.song.engine.params
    assert not params.planner.enabled and "plan" not in job.plan.names
    engine = song.engine.engine
    assert len(engine.models_needed(song.engine.params)) == 2 and len(engine.models_needed(params)) == 1  # the DiT
    repaint = job.plan.steps[job.plan.names.index("repaint")]
    done = repaint.step.run(repaint.params, {}, tmp_path / "edit", None)
    assert "planned" not in json.loads(Path(done.path("take")).read_text())


def test_an_edit_is_made_under_the_album_settings_its_song_was_made_under(tiny, tmp_path):
    """measure.pitch_model and the licence settings (commercial, licences_checked, enterprise) the album gave the
    song are in its manifest and in the edit's album; a song whose manifest predates them: the defaults."""
    song = ace_song(tiny)
    album = AlbumSpec(title="Edited", songs=[song], commercial=True, licences_checked=["CC-BY-NC-4.0"],
                      enterprise=True, measure={"pitch_model": "full"})
    folder = song_folder(tmp_path / "01-lanterns", song, settings=album_settings(album))
    assert json.loads((folder / "manifest.json").read_text())["params"]["album"]["measure"] == {"pitch_model": "full"}
    job = plan_edit(folder, request_for(read_song_folder(folder), 1, 2, None, None, None))
    assert job.album.commercial and job.album.enterprise and job.album.licences_checked == ["CC-BY-NC-4.0"]
    assert job.album.measure.pitch_model == "full"

    older = song_folder(tmp_path / "02-older", song)  # no settings recorded
    assert "album" not in json.loads((older / "manifest.json").read_text())["params"]
    old_job = plan_edit(older, request_for(read_song_folder(older), 1, 2, None, None, None))
    defaults = AlbumSpec(title="x", songs=[song])
    assert album_settings(old_job.album) == album_settings(defaults)


def test_the_crossfade_margin_is_in_the_repaints_cache_key(tiny, tmp_path, monkeypatch):
    from songforge.engine.ace_step import edit
    from tasks.cache import canonical

    folder = song_folder(tmp_path / "01-lanterns", ace_song(tiny))
    request = request_for(read_song_folder(folder), 1, 2, None, None, 5)
    plan = lambda: plan_edit(folder, request).plan
    key = lambda: canonical(plan().steps[plan().names.index("repaint")].params)
    before = key()
    monkeypatch.setattr(edit, "CROSSFADE_S", edit.CROSSFADE_S / 2)
    assert key() != before
