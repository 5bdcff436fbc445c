"""Model folders: every missing model of an album named at once before anything runs; pulls pinned to a commit
and recorded file by file; identities that re-hash only files whose size or mtime changed.

No model can be downloaded here. The pull tests replace only huggingface_hub's hub calls (snapshot_download,
and HfApi.model_info for unpinned repos) with fakes that write files into the target folder as a download
would; everything after the download (conversion, hashing, manifest, identity, loading checks) is real.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from typer.testing import CliRunner

from songforge import artifacts, catalogue, models
from songforge.engine.yue import weights
from songforge.engine.yue.engine import folder_identity, model_identities
from songforge.engine.yue.steps import YuEEngine
from songforge.errors import EngineError
from songforge.models import INDEX, MANIFEST, read_manifest
from songforge.params import SongSpec
from songforge.preflight import check_models, missing_models

LYRICS = "[verse]\nCity lights are fading\n\n[chorus]\nHold on, the night is over\n"
LM_FILES = {"config.json": b'{"model_type": "llama"}', "model.safetensors": os.urandom(4096),
            "tokenizer.model": b"spm"}


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "models"
    monkeypatch.setenv("SONGFORGE_MODELS", str(root))
    return root


class FakeHub:
    """The hub download, faked: writes `files` (those the allow patterns match) into local_dir, as a download
    would, and records each call."""

    def __init__(self):
        self.calls: list[dict] = []
        self.files = dict(LM_FILES)

    def snapshot_download(self, repo_id, *, revision, local_dir, allow_patterns):
        self.calls.append({"repo": repo_id, "revision": revision, "patterns": allow_patterns})
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            if any(fnmatch(name, pattern) for pattern in allow_patterns):
                (Path(local_dir) / name).write_bytes(data)
        return str(local_dir)


@pytest.fixture
def hub(monkeypatch) -> FakeHub:
    import huggingface_hub

    fake = FakeHub()
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake.snapshot_download)
    return fake


def hash_calls(monkeypatch) -> list[Path]:
    """A spy on the one hashing function every FileRef uses: the list of files hashed from now on."""
    hashed: list[Path] = []
    real = artifacts.file_sha256

    def spy(path, *args, **kwargs):
        hashed.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(artifacts, "file_sha256", spy)
    return hashed


def album_yaml(folder: Path) -> Path:
    """Three YuE songs on two stage-1 models (CoT and ICL with an audio prompt), as an album file."""
    prompt = folder / "prompt.wav"
    sf.write(prompt, np.zeros((16000, 2), dtype=np.float32), 16000)
    songs = [{"title": "One", "seed": 1},
             {"title": "Two", "seed": 2, "params": {"stage1_model": "yue-en-icl", "prompt_audio": str(prompt)}},
             {"title": "Three", "seed": 3}]
    spec = {"title": "No Weights", "songs": [
        {"title": s["title"], "lyrics": LYRICS, "genre": ["pop"], "seed": s["seed"],
         "engine": {"name": "yue", "params": {"max_new_tokens": 24, **s.get("params", {})}}} for s in songs]}
    path = folder / "album.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def yue_song(title: str = "Tiny", **params) -> SongSpec:
    return SongSpec(title=title, lyrics=LYRICS, genre=["pop"], engine={"name": "yue", "params": params})


# --- every missing model at once, before anything starts ---------------------------------------------------

def test_an_album_without_weights_lists_every_missing_model_and_starts_nothing(models_dir, tmp_path):
    from app.cli import app

    out, store = tmp_path / "out", tmp_path / "mlflow.db"
    result = CliRunner().invoke(app, ["album", str(album_yaml(tmp_path)), "--out", str(out),
                                      "--tracking-uri", f"sqlite:///{store}"])
    assert result.exit_code == 2, result.output
    text = result.output
    pull_lines = [line for line in text.splitlines() if "songforge models pull" in line]
    assert len(pull_lines) == 1, text
    pulled = pull_lines[0].split("songforge models pull ")[1].split("`")[0].split()
    assert sorted(pulled) == ["xcodec", "yue-en-cot", "yue-en-icl", "yue-s2"], text
    assert "4 models" in text and "stage 1 of 'One', 'Three')" in text and "stage 1 of 'Two')" in text
    assert str(models_dir / "yue-en-icl") in text
    assert not store.exists(), "an MLflow run was made"
    assert not out.exists(), "an output folder (songs, report) was made"


@pytest.mark.slow
def test_the_album_file_deployment_flow_checks_models_before_its_runs(models_dir, tmp_path, prefect_api):
    from flows.album import album_file_flow

    out, store = tmp_path / "out", tmp_path / "mlflow.db"
    with pytest.raises(EngineError, match=r"songforge models pull (?=.*yue-en-icl)(?=.*yue-s2)"):
        album_file_flow(str(album_yaml(tmp_path)), str(out), f"sqlite:///{store}")
    assert not store.exists() and not out.exists()


def test_incomplete_folders_and_folders_of_ones_own_are_named_with_their_fix(models_dir, hub, tmp_path):
    catalogue.pull("yue-s2")
    (models_dir / "yue-s2" / "model.safetensors").unlink()  # recorded by the pull, then lost
    own = tmp_path / "my-finetune"
    songs = [yue_song("A"), yue_song("B", stage1_model=str(own)), SongSpec(title="Sketch", lyrics=LYRICS)]
    missing = {m.folder: m for m in missing_models(songs)}
    assert missing[models_dir / "yue-s2"].missing == ("model.safetensors",)
    assert missing[own].pull is None and missing[own].uses == {"stage 1": ["B"]}
    assert missing[models_dir / "xcodec"].uses == {"codec": ["A", "B"]}
    with pytest.raises(EngineError) as error:
        check_models(songs, source="album.yaml")
    message = str(error.value)
    assert message.startswith("album.yaml: 4 models") and "yue-s2" in message and "lacks model.safetensors" in message
    assert "songforge models pull yue-en-cot yue-s2 xcodec`" in message  # not the folder of one's own
    assert f"a model folder of your own: {own}" in message and "correct its path" in message
    check_models([SongSpec(title="Sketch", lyrics=LYRICS)])  # the sketch engine needs no model


# --- pulls: a pinned commit, every file recorded ------------------------------------------------------------

def test_every_catalogue_model_names_a_commit_and_pinned_ones_are_40_hex():
    assert {name for name, entry in weights.MODELS.items() if entry.pinned} >= {"yue-en-cot", "yue-en-icl",
                                                                                   "yue-s2", "xcodec"}
    for entry in weights.MODELS.values():
        assert entry.revision and (entry.pinned or entry.revision == "main")


def test_pull_downloads_the_pinned_commit_and_records_every_file(models_dir, hub):
    folder = catalogue.pull("yue-en-cot")
    assert hub.calls == [{"repo": "m-a-p/YuE-s1-7B-anneal-en-cot", "revision": weights.MODELS["yue-en-cot"].revision,
                    "patterns": ["*.json", "*.safetensors", "tokenizer.model"]}]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["repo"] == "m-a-p/YuE-s1-7B-anneal-en-cot" and manifest["name"] == "yue-en-cot"
    assert manifest["revision"] == "454c20e1748888800f8e4b3da45125f55482d967"
    assert set(manifest["files"]) == set(LM_FILES)
    for name, data in LM_FILES.items():
        stat = (folder / name).stat()
        assert manifest["files"][name] == {"size": len(data), "mtime_ns": stat.st_mtime_ns,
                                           "sha256": hashlib.sha256(data).hexdigest()}
    assert not list(folder.glob(".*.tmp*")), "the manifest was not written atomically"


def test_pull_of_an_unpinned_repo_downloads_and_records_the_commit_main_is_now(models_dir, hub, monkeypatch):
    import huggingface_hub

    commit = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info",
                        lambda self, repo, revision: type("Info", (), {"sha": commit})())
    assert not weights.MODELS["yue-zh-cot"].pinned
    folder = catalogue.pull("yue-zh-cot")
    assert hub.calls[0]["revision"] == commit and read_manifest(folder)["revision"] == commit


def test_pull_of_xcodec_records_the_converted_files_too(models_dir, monkeypatch):
    import huggingface_hub
    from test_yue_codec import tiny_reference, write_official

    from songforge.engine.yue.codec import CONVERTED

    revisions = []

    def fake_snapshot_download(repo_id, *, revision, local_dir, allow_patterns):
        revisions.append(revision)
        write_official(tiny_reference(), Path(local_dir))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    folder = catalogue.pull("xcodec")
    files = read_manifest(folder)["files"]
    assert revisions == ["fe781a67815ab47b4a3a5fce1e8d0a692da7e4e5"]
    assert {f"{CONVERTED}/model.safetensors", f"{CONVERTED}/config.json", "final_ckpt/ckpt_00360000.pth"} <= set(files)
    converted = (folder / CONVERTED / "model.safetensors").read_bytes()
    assert files[f"{CONVERTED}/model.safetensors"]["sha256"] == hashlib.sha256(converted).hexdigest()


def test_a_pull_at_another_commit_removes_the_old_commits_files(models_dir, hub, monkeypatch):
    catalogue.pull("yue-s2")
    newer = catalogue.HubModel(weights.MODELS["yue-s2"].repo, "f" * 40, weights.MODELS["yue-s2"].licence)
    monkeypatch.setitem(catalogue.CATALOGUE, "yue-s2", newer)
    hub.files = {"config.json": b'{"v": 2}', "model-00001-of-00001.safetensors": b"new weights"}
    folder = catalogue.pull("yue-s2")
    assert not (folder / "model.safetensors").exists(), "a shard of the old commit would load beside the new one"
    assert set(read_manifest(folder)["files"]) == {"config.json", "model-00001-of-00001.safetensors"}


# --- identity: revision + hashes, re-hashing only what changed ---------------------------------------------

def test_identity_of_an_untouched_pull_reads_no_file(models_dir, hub, monkeypatch):
    catalogue.pull("yue-s2")
    first = folder_identity("yue-s2")
    params = YuEEngine.Params(stage1_model="yue-s2")
    engine_identity = YuEEngine().identity(params)
    hashed = hash_calls(monkeypatch)
    models._seen.clear()  # as a new process (a worker run): only the manifest vouches for the files
    assert [folder_identity("yue-s2") for _ in range(3)] == [first] * 3
    assert YuEEngine().identity(params) == engine_identity
    assert hashed == [], "an unchanged model was hashed again"
    assert first.startswith("9dfa90b7013f:")  # the pinned commit leads the identity


def test_replaced_weights_change_the_identity_once_and_say_so(models_dir, hub, monkeypatch, caplog):
    folder = catalogue.pull("yue-s2")
    before = model_identities(YuEEngine.Params())["stage2"]
    shard = folder / "model.safetensors"
    stat = shard.stat()
    shard.write_bytes(os.urandom(stat.st_size))  # same size, new content
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    hashed = hash_calls(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="songforge.models"):
        after = folder_identity("yue-s2")
    assert after != before and hashed == [shard], "only the changed file is hashed"
    assert str(shard) in caplog.text and "identity changes" in caplog.text
    hashed.clear()
    models._seen.clear()  # as a new process: the manifest now holds the new hash
    assert folder_identity("yue-s2") == after and hashed == [], "the new hash was not recorded"
    assert read_manifest(folder)["files"]["model.safetensors"]["pulled_sha256"] == hashlib.sha256(
        LM_FILES["model.safetensors"]).hexdigest()


def test_a_touched_but_unchanged_file_is_hashed_once_and_keeps_the_identity(models_dir, hub, monkeypatch, caplog):
    folder = catalogue.pull("yue-s2")
    before = folder_identity("yue-s2")
    os.utime(folder / "config.json", ns=(0, 1_000_000_000))
    hashed = hash_calls(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="songforge.models"):
        assert folder_identity("yue-s2") == before and folder_identity("yue-s2") == before
    assert hashed == [folder / "config.json"] and caplog.text == ""


def test_a_missing_recorded_file_names_the_file_and_the_pull(models_dir, hub):
    from songforge.engine.yue.engine import _model

    folder = catalogue.pull("yue-s2")
    (folder / "config.json").unlink()
    for attempt in (lambda: folder_identity("yue-s2"), lambda: _model("yue-s2", "float32", keep=False)):
        with pytest.raises(EngineError, match=rf"{folder / 'config.json'} is missing.*songforge models pull yue-s2"):
            attempt()


def test_a_folder_of_ones_own_is_hashed_once_then_trusted(tmp_path, monkeypatch):
    own = tmp_path / "my-s2"
    own.mkdir()
    for name, data in LM_FILES.items():
        (own / name).write_bytes(data)
    hashed = hash_calls(monkeypatch)
    first = folder_identity(str(own))
    assert sorted(hashed) == sorted(own / name for name in LM_FILES) and (own / INDEX).is_file()
    hashed.clear()
    models._seen.clear()  # as a new process: only the index beside the files vouches for them
    assert folder_identity(str(own)) == first and hashed == []
    (own / "config.json").write_text('{"model_type": "llama", "changed": 1}')
    assert folder_identity(str(own)) != first and hashed == [own / "config.json"]
    assert first.startswith("local:")
