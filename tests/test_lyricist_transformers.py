"""The lyricist with a tiny random transformers chat model (tests/lyricist_tiny.py): behind the tests' own
OpenAI-compatible server on 127.0.0.1 (transport, streaming, the nonsense path), and in process (LocalChat).
Random weights write nonsense: every draft is refused by the rules, and the loop fails clearly."""

from __future__ import annotations

import pytest
from lyricist_tiny import write_tiny_chat_model
from openai_server import MODEL_ID, REVISION, Server, serve

from songforge.errors import EngineError
from songforge.lyricist.endpoint import EndpointChat
from songforge.lyricist.local import LocalChat
from songforge.lyricist_params import LyricistParams
from songforge.lyricist.repair import LyricsRejected, draft_song


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat"))


def test_nonsense_from_a_model_behind_the_server_is_streamed_checked_sent_back_and_refused(tiny_model):
    # responder: the tiny random transformers model, through its chat template (LocalChat), streamed as SSE
    local = LocalChat(LyricistParams(backend="transformers", model=str(tiny_model), max_tokens=64, seed=1))
    answers: list[str] = []

    def respond(body: dict) -> str:
        answers.append(local(body["messages"]).text)
        return answers[-1]

    with serve(Server(respond)) as server:
        chat = EndpointChat(LyricistParams(base_url=server.url, model=MODEL_ID, stream=True, max_tokens=64))
        with pytest.raises(LyricsRejected) as raised:
            draft_song(chat, "leaving a harbour town", "en", max_rounds=3)
        assert chat.provenance()["revision"] == REVISION  # as the server's /v1/models reports it
    chats = server.chats()
    assert len(chats) == 3 and all(body["stream"] for body in chats)
    assert len(answers) == 3 and any(answers)  # the model answered; its words came through the stream whole
    for round_ in (1, 2):  # each later request carries the model's own answer and the problems found in it
        assert chats[round_]["messages"][-2] == {"role": "assistant", "content": answers[round_ - 1]}
        assert "rules" in chats[round_]["messages"][-1]["content"]
    assert "after 3 round(s)" in str(raised.value) and raised.value.problems
    assert {p.rule for p in raised.value.problems} <= {"format", "section_tag", "sung_sections", "chorus_repeats",
                                                       "section_lines", "line_syllables", "fits_duration",
                                                       "fills_duration", "line_crowded", "tag_vocabulary"}


def test_the_in_process_backend_reads_the_chat_template_and_is_reproducible_per_seed(tiny_model):
    # no server: the tiny random model in process
    def answer(seed: int) -> str:
        return LocalChat(LyricistParams(backend="transformers", model=str(tiny_model), max_tokens=64, seed=seed))(
            [{"role": "user", "content": "Write a song"}]).text

    assert answer(1) == answer(1)
    assert answer(1) != answer(2) or answer(1) != answer(3)
    chat = LocalChat(LyricistParams(backend="transformers", model=str(tiny_model), max_tokens=64))
    with pytest.raises(LyricsRejected):
        draft_song(chat, "a harbour song", "it", max_rounds=2)
    assert chat.requests == 2
    provenance = chat.provenance()
    assert provenance["backend"] == "transformers" and provenance["weights"].startswith("local:")


def test_a_model_folder_that_is_not_there_names_the_pull_command(tmp_path):
    from songforge.errors import EngineError

    chat = LocalChat(LyricistParams(backend="transformers", model=str(tmp_path / "absent")))
    with pytest.raises(EngineError, match="songforge models pull"):
        chat([{"role": "user", "content": "x"}])


def test_the_in_process_lyricist_model_is_in_the_catalogue_with_its_licence(tmp_path, monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    from songforge.catalogue import catalogue_entry
    from songforge.errors import EngineError

    entry = catalogue_entry("llama-3-8b-instruct")
    assert entry.repo == "meta-llama/Meta-Llama-3-8B-Instruct" and entry.gated
    assert entry.licence.name == "Meta Llama 3 Community License" and "700 million" in entry.licence.terms
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run([sys.executable, "-m", "app.cli", "models", "list"], cwd=root, capture_output=True,
                            text=True, env={**__import__("os").environ, "SONGFORGE_MODELS": str(tmp_path)}, timeout=300)
    row = next(line for line in listed.stdout.splitlines() if line.startswith("llama-3-8b-instruct"))
    assert "Llama-3-Community" in row and "below its revenue threshold" in row
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path))  # nothing pulled there: the draft says how to pull it
    with pytest.raises(EngineError, match="songforge models pull llama-3-8b-instruct"):
        chat = LocalChat(LyricistParams(backend="transformers", model="llama-3-8b-instruct"))
        chat([{"role": "user", "content": "x"}])


def test_a_hub_id_is_read_from_the_hugging_face_cache_never_downloaded(tiny_model, tmp_path, monkeypatch):
    # the tiny random model laid out as the hub's cache keeps a snapshot (tests' own repo id: never a real model)
    import shutil

    commit = "0" * 39 + "1"
    repo = tmp_path / "hub" / "models--songforge-tests--tiny-chat"
    shutil.copytree(tiny_model, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    chat = LocalChat(LyricistParams(backend="transformers", model="songforge-tests/tiny-chat", max_tokens=64))
    assert isinstance(chat([{"role": "user", "content": "Write a song"}]).text, str) and chat.requests == 1
    assert chat.provenance()["revision"] == commit  # the snapshot's commit: in the cache key and the lineage
    missing = LocalChat(LyricistParams(backend="transformers", model="songforge-tests/not-cached"))
    with pytest.raises(EngineError, match="nor in the Hugging Face cache"):
        missing([{"role": "user", "content": "x"}])


def test_a_folder_without_a_chat_template_is_refused_at_load_naming_the_model(tmp_path):
    base = write_tiny_chat_model(tmp_path / "base", template=False)  # tiny random, saved without a template
    with pytest.raises(EngineError, match=r"has no chat template.*instruct or chat version"):
        LocalChat(LyricistParams(backend="transformers", model=str(base), max_tokens=64))(
            [{"role": "user", "content": "x"}])


def test_sampling_leaves_the_global_random_state_as_it_was(tiny_model):
    import torch

    chat = LocalChat(LyricistParams(backend="transformers", model=str(tiny_model), max_tokens=64, seed=5))
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    first = chat([{"role": "user", "content": "x"}]).text
    assert torch.equal(torch.rand(4), expected)  # the draft drew from a forked RNG
    assert chat([{"role": "user", "content": "x"}]).text == first  # and is still reproducible per seed


def test_a_lyricist_model_that_is_neither_a_folder_nor_a_hub_id_is_an_engine_error_not_a_crash():
    # no server, no model: 'my org/the model' is no folder here and no valid hub id (huggingface_hub refuses it)
    from songforge.lyricist.brief import brief_call
    from songforge.params import SongSpec

    params = LyricistParams(backend="transformers", model="my org/the model")
    call = brief_call(SongSpec(title="odd", lyrics_brief="x", lyricist=params))  # asked before the draft
    assert call.served["model"] == "my org/the model"
    with pytest.raises(EngineError, match="'my org/the model' is not at .* Fix: run `songforge models pull"):
        LocalChat(params)([{"role": "user", "content": "x"}])
