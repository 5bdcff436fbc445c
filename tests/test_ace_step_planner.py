"""The ace-step planner LM on a tiny random Qwen3 (tests/ace_step_planner_tiny.py, saved and loaded by the engine's
own loader): the code phase writes audio codes only, exactly five a second; seeds reproduce; our static-cache decode
picks the tokens transformers' `generate` picks; the metadata block is parsed, the song's fields win, a malformed
block falls back; the plan step's codes reach the render's DiT; the planner off leaves every key as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ace_step_planner_tiny import CODES, CodesOnly, write_tiny_planner

from songforge.engine.ace_step.params import MODEL, PlannerParams
from songforge.engine.ace_step.planner import prompt
from songforge.engine.ace_step.planner.generate import Sampling, code_phase, metadata_phase
from songforge.engine.ace_step.planner.model import load_planner
from songforge.engine.ace_step.planner.step import PLAN, PlanCall, make_plans, model_need, plan_call
from songforge.errors import EngineError
from songforge.params import SongSpec

LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Models a few dozen wide: more threads only wait on each other (10x slower on a busy shared box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_tiny_planner(tmp_path_factory.mktemp("models") / "tiny-lm")


@pytest.fixture(scope="module")
def planner(folder):
    return load_planner(folder)


def call_of(folder: Path, duration_s: float = 10, seed: int = 0, **planner) -> PlanCall:
    return PlanCall(caption="dreamy synth-pop, breathy female vocal", lyrics=LYRICS, duration_s=duration_s, bpm=96,
                    key="F# minor", language="en", time_signature="4", dtype="float32", identity="tiny", seed=seed,
                    planner=PlannerParams(enabled=True, model=str(folder), **{"think": False, **planner}))


def prompts(planner, call: PlanCall) -> tuple[list[int], list[int]]:
    metadata = prompt.song_metadata(call.bpm, call.duration_s, call.key, call.time_signature)
    cond, uncond = prompt.code_prompts(planner.tokenizer, call.caption, call.lyrics, metadata)
    return planner.tokenizer(cond)["input_ids"], planner.tokenizer(uncond)["input_ids"]


def test_the_code_phase_writes_audio_codes_only_and_exactly_five_a_second(planner, folder):
    code_ids = set(planner.vocab.code_ids.tolist())
    assert len(code_ids) == CODES and planner.vocab.eos_id not in code_ids
    # A random LM puts most of its mass on other tokens: temperature 1.5, no top-p, so every id is in play.
    for seed in range(4):
        (plan,) = make_plans(planner, call_of(folder, 10.2, temperature=1.5, top_p=1.0), [seed])
        assert len(plan["codes"]) == prompt.code_count(10.2) == 51 and all(0 <= c < CODES for c in plan["codes"])
    cond, uncond = prompts(planner, call_of(folder))
    ids = code_phase(planner, cond, uncond, 50, Sampling(1.5, 1.0, 0, 2.0),
                     [torch.Generator().manual_seed(s) for s in range(3)])  # three takes in one batch
    assert ids.shape == (3, 50) and set(planner.vocab.code_ids[ids].flatten().tolist()) <= code_ids
    # Unmasked, the same model would mostly write other tokens: the mask, not luck, keeps them out.
    logits = planner.model(torch.tensor([cond])).logits[0, -1]
    assert logits.softmax(-1)[planner.vocab.code_ids].sum() < 0.5


def test_the_same_seed_gives_the_same_codes_and_another_seed_others(planner, folder):
    call = call_of(folder)
    first, again, other = (make_plans(planner, call, [seed])[0]["codes"] for seed in (3, 3, 4))
    assert first == again and first != other
    batch = make_plans(planner, call, [3, 4])
    assert [p["codes"] for p in batch] == [first, other]  # a take decoded in a batch is the take decoded alone


def test_with_the_metadata_phase_a_take_in_a_batch_is_the_take_alone(planner, folder):
    """think: true. Each take writes its own block from its own generator, so its block, and the codes drawn after
    it, are what it gets alone (the first take's block reused would leave the others' generators behind)."""
    call = call_of(folder, think=True, temperature=1.5, top_p=1.0)
    alone = [make_plans(planner, call, [seed], budget=12)[0] for seed in (3, 4, 5)]
    assert make_plans(planner, call, [3, 4, 5], budget=12) == alone
    assert len({p["metadata_error"] for p in alone}) == 3  # each take's own (random) block, named in its error
    assert len({tuple(p["codes"]) for p in alone}) == 3
    cond, uncond = (planner.tokenizer(text)["input_ids"] for text in prompt.metadata_prompts(
        planner.tokenizer, call.caption, call.lyrics, 96))
    blocks = metadata_phase(planner, cond, uncond, Sampling(1.5, 1.0, 0, 2.0),
                            [torch.Generator().manual_seed(seed) for seed in (3, 4)], budget=12)
    assert blocks == [metadata_phase(planner, cond, uncond, Sampling(1.5, 1.0, 0, 2.0),
                                     [torch.Generator().manual_seed(seed)], budget=12)[0] for seed in (3, 4)]


@pytest.mark.parametrize("cfg_scale", [1.0, 2.0])
def test_our_static_cache_decode_picks_what_transformers_generate_picks(planner, folder, cfg_scale):
    from transformers import LogitsProcessorList

    cond, uncond = prompts(planner, call_of(folder))
    assert len(uncond) < len(cond)  # the unconditional row is left-padded in our batch
    codes = code_phase(planner, cond, uncond, 40, Sampling(0.0, 1.0, 0, cfg_scale), [torch.Generator()])[0]
    ours = planner.vocab.code_ids[codes]  # code values -> their token ids
    # transformers' CFG (UnbatchedClassifierFreeGuidanceLogitsProcessor) mixes log-softmaxed branches; ACE-Step
    # mixes raw logits. They differ by a constant per row, so greedy picks the same ids.
    guided = {"guidance_scale": cfg_scale, "negative_prompt_ids": torch.tensor([uncond])} if cfg_scale > 1 else {}
    theirs = planner.model.generate(torch.tensor([cond]), max_new_tokens=40, do_sample=False,
                                    logits_processor=LogitsProcessorList([CodesOnly(planner.vocab.code_mask())]),
                                    **guided)[0, len(cond):]
    assert ours.tolist() == theirs.tolist()


def test_the_metadata_block_is_parsed_and_the_songs_own_fields_win():
    written = ("caption: A hushed synth-pop ballad, breathy female\n  vocal over warm pads\nduration: 187\n"
               "keyscale: D major\nlanguage: ja\ntimesignature: 3\n</think>")
    parsed = prompt.parse_metadata(written)
    assert parsed == {"caption": "A hushed synth-pop ballad, breathy female vocal over warm pads", "duration": "187",
                      "keyscale": "D major", "language": "ja", "timesignature": "3"}
    song = prompt.song_metadata(96.4, 10.0, "F# minor", "4")
    planned = prompt.planned_metadata(song, "en", parsed)
    assert planned == {"bpm": 96, "caption": parsed["caption"], "duration": 10, "keyscale": "F# minor",
                       "language": "en", "timesignature": 4}
    # The block the code phase reads: sorted YAML, as ACE-Step's _format_metadata_as_cot writes it.
    assert prompt.block(planned) == ("<think>\nbpm: 96\ncaption: A hushed synth-pop ballad, breathy female vocal "
                                     "over warm pads\nduration: 10\nkeyscale: F# minor\nlanguage: en\n"
                                     "timesignature: 4\n</think>")


def taught_planner(folder: Path, cond_text: str, block_text: str) -> Path:
    """The tiny LM taught (a few hundred Adam steps) to continue `cond_text` with `block_text`, saved to folder:
    a random LM never closes a block with fields, and the metadata phase's success path needs one that does."""
    from ace_step_planner_tiny import tiny_planner

    model, tokenizer = tiny_planner(seed=1)
    ids = torch.tensor([tokenizer(cond_text)["input_ids"] + tokenizer(block_text)["input_ids"]])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-2)
    model.train()
    for _ in range(120):
        optimiser.zero_grad()
        model(ids, labels=ids).loss.backward()
        optimiser.step()
    model.eval().save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def test_the_metadata_phase_writes_a_block_whose_caption_the_codes_follow(tmp_path):
    from ace_step_planner_tiny import tiny_planner_tokenizer

    written = "caption: a hushed synth-pop ballad\nduration: 187\nkeyscale: D major\nlanguage: ja\n</think>"
    call = call_of(tmp_path / "lm", think=True, temperature=0.0, cfg_scale=1.0)
    cond, _ = prompt.metadata_prompts(tiny_planner_tokenizer(), call.caption, call.lyrics, 96)
    planner = load_planner(taught_planner(tmp_path / "lm", cond, written))
    (plan,) = make_plans(planner, call, [0], budget=80)
    assert plan["metadata_error"] is None
    assert plan["written"] == {"caption": "a hushed synth-pop ballad", "duration": "187", "keyscale": "D major",
                               "language": "ja"}
    # The LM's caption joins the block; the song's key, duration and language stay.
    assert plan["metadata"] == {"bpm": 96, "caption": "a hushed synth-pop ballad", "duration": 10,
                                "keyscale": "F# minor", "language": "en", "timesignature": 4}
    assert len(plan["codes"]) == 50


def test_a_malformed_metadata_block_is_named_and_the_plan_falls_back_to_the_songs_fields(planner, folder):
    with pytest.raises(EngineError, match="never closed with </think>"):
        prompt.parse_metadata("caption: a song that goes on")
    with pytest.raises(EngineError, match="no 'field: value' line"):
        prompt.parse_metadata("la la la\n</think>")
    # The random LM writes no block worth reading: the plan says why and follows the song's own fields.
    (plan,) = make_plans(planner, call_of(folder, think=True), [0], budget=24)
    assert plan["written"] is None and "metadata block" in plan["metadata_error"]
    assert plan["metadata"] == prompt.song_metadata(96, 10, "F# minor", "4") and len(plan["codes"]) == 50


def song_of(model: Path, lm: Path | None, seed: int = 0, **planner) -> SongSpec:
    params = {"model": str(model), "inference_steps": 2}
    if lm is not None:
        params["planner"] = {"enabled": True, "model": str(lm), **planner}
    return SongSpec(title="Lanterns", lyrics=LYRICS, duration_s=10, seed=seed, bpm=96, key="F# minor",
                    genre=["dreamy synth-pop"], voice=["breathy female vocal"],
                    engine={"name": "ace-step", "params": params})


def test_the_planner_off_leaves_the_engine_identity_and_render_key_as_they_were(folder, tmp_path):
    from songforge.engine.ace_step.steps import AceStepEngine, render_call

    bare = song_of(tmp_path / "ace", None)
    assert "planner" not in bare.engine.params.model_dump() and plan_call(bare) is None
    for planner in ({"enabled": False}, {"enabled": False, "cfg_scale": 3.0, "top_k": 5}):  # knobs of a planner off
        off = SongSpec(**{**bare.model_dump(), "engine": {"name": "ace-step", "params": {
            **bare.engine.params.model_dump(), "planner": planner}}})
        assert off.engine.params.planner.cfg_scale == planner.get("cfg_scale", 2.0)
        assert off.engine.params.model_dump() == bare.engine.params.model_dump()
        assert AceStepEngine().identity(off.engine.params) == AceStepEngine().identity(bare.engine.params)
        assert render_call(off).model_dump() == render_call(bare).model_dump() and plan_call(off) is None
    on = song_of(tmp_path / "ace", folder)
    assert AceStepEngine().identity(on.engine.params) != AceStepEngine().identity(bare.engine.params)
    assert plan_call(on).planner.cfg_scale == 2.0 and plan_call(on, None).seed == 0
    assert on.engine.with_params({"inference_steps": 3}).params.planner.enabled  # copies keep the planner


def test_a_missing_planner_folder_is_named_with_its_pull_command(tmp_path, monkeypatch):
    from songforge.catalogue import catalogue_entry
    from songforge.preflight import missing_models, pull_command

    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    song = SongSpec(title="x", lyrics=LYRICS, engine={"name": "ace-step", "params": {"planner": {"enabled": True}}})
    (need,) = PLAN.models(plan_call(song))
    assert need.pull == MODEL and need.missing == (".",) and need.folder.name == "acestep-5Hz-lm-1.7B"
    assert pull_command(missing_models([song])) == f"songforge models pull {MODEL}"
    # The catalogue entry pulls that subfolder: weights, config, tokenizer and chat template.
    patterns = catalogue_entry(MODEL).patterns
    assert {"acestep-5Hz-lm-1.7B/*.safetensors", "acestep-5Hz-lm-1.7B/*.json",
            "acestep-5Hz-lm-1.7B/*.jinja"} <= set(patterns)
    partial = tmp_path / "lm"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    with pytest.raises(EngineError, match=r"lacks \*.safetensors, tokenizer_config.json"):
        load_planner(partial)


def test_the_plan_steps_codes_reach_the_renders_dit(folder, tmp_path):
    from ace_step_tiny import write_tiny_ace_step
    from diffusers import AceStepPipeline

    from songforge.audio.io import read_audio
    from songforge.engine.ace_step.steps import RENDER, render_call

    dit = write_tiny_ace_step(tmp_path / "ace", pool_window_size=20)  # 5 codes a second -> its 100 latents a second
    song = song_of(dit, folder, seed=5, think=False)
    planned = PLAN.run(plan_call(song), {}, tmp_path / "song", None)
    plan = json.loads(planned.path("plan").read_text())
    assert len(plan["codes"]) == 50 and plan["metadata"]["bpm"] == 96 and plan["seed"] == 5
    out = RENDER.run(render_call(song), {"plan": planned}, tmp_path / "song", None)
    ours, rate = read_audio(out.path("engine_mix"))
    assert json.loads(out.path("take").read_text())["planned"] is True

    direct = AceStepPipeline.from_pretrained(dit)
    audios = direct(prompt="dreamy synth-pop, breathy female vocal", lyrics=song.lyrics, audio_duration=10.0,
                    vocal_language="en", num_inference_steps=2, bpm=96, keyscale="F# minor", timesignature="4",
                    audio_codes=prompt.code_string(plan["codes"]), generator=torch.Generator().manual_seed(5)).audios
    np.testing.assert_array_equal(ours, audios[0].float().numpy().T[: 10 * rate])
    unplanned = RENDER.run(render_call(song), {}, tmp_path / "bare", None)
    assert np.abs(read_audio(unplanned.path("engine_mix"))[0] - ours).max() > 1e-3  # the codes changed the take


@pytest.mark.slow
def test_a_planned_song_runs_plan_then_render_through_the_album_flow_and_is_cached(folder, prefect_api, tmp_path,
                                                                                     monkeypatch):
    import yaml
    from test_plan_flows import task_run_states

    from flows.album import album_flow
    from songforge.album_file import load_album
    from ace_step_tiny import write_tiny_ace_step

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    dit = write_tiny_ace_step(tmp_path / "ace", pool_window_size=20)
    path = tmp_path / "album.yaml"
    one = {"title": "One", "lyrics": LYRICS, "duration_s": 10, "bpm": 96, "key": "F# minor",
           "genre": ["dreamy synth-pop"],
           "engine": {"name": "ace-step", "params": {"model": str(dit), "inference_steps": 2, "planner": {
               "enabled": True, "model": str(folder), "think": True}}}}
    # "Two" differs from "One" in its seed only: their plans batch (one LM load), as a song's takes do.
    path.write_text(yaml.safe_dump({"title": "Planned", "songs": [one, {**one, "title": "Two", "seed": 1}]}))
    album = load_album(path)
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    song = Path(result["folders"][0])
    plan = json.loads((song / "ace-step" / "plan.json").read_text())
    assert len(plan["codes"]) == 50 and plan["planner"]["think"] is True
    assert json.loads((song / "take.json").read_text())["planned"] is True
    assert task_run_states(first, "plan-01-one") == ["Completed"]
    assert task_run_states(first, "render-01-one") == ["Completed"]
    assert task_run_states(first, "plan-batch-2-takes") == ["Completed"]
    two = json.loads((Path(result["folders"][1]) / "ace-step" / "plan.json").read_text())
    assert two["seed"] == 1 and two["codes"] != plan["codes"]

    made = (song / "stems" / "engine_mix.wav").stat().st_mtime_ns
    again = album_flow(album, out, uri, return_state=True)
    assert task_run_states(again, "plan-01-one") == ["Cached"]
    assert task_run_states(again, "render-01-one") == ["Cached"]
    assert (song / "stems" / "engine_mix.wav").stat().st_mtime_ns == made


def test_the_plan_keys_on_the_lm_files_only_and_the_render_on_every_file_but_the_lm(tmp_path, monkeypatch):
    """One repository holds the DiT, VAE, text encoder and the LM: pulling or changing the LM re-keys no render
    (planner off or on), and a DiT change re-plans no song."""
    from songforge.engine.ace_step.params import LM
    from songforge.engine.ace_step.steps import render_call

    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    main = tmp_path / "models" / MODEL
    for rel in ("vae/config.json", "acestep-v15-turbo/config.json", f"{LM}/config.json"):
        (main / rel).parent.mkdir(parents=True, exist_ok=True)
        (main / rel).write_text('{"v": 1}')
    song = SongSpec(title="x", lyrics=LYRICS, seed=2, engine={"name": "ace-step", "params": {
        "planner": {"enabled": True}}})
    bare = SongSpec(**{**song.model_dump(), "engine": {"name": "ace-step", "params": {}}})

    def keys() -> tuple[str, str, str]:
        return plan_call(song).identity, render_call(song).identity, render_call(bare).identity

    before = keys()
    (main / LM / "config.json").write_text('{"v": 22}')  # the LM changed (or pulled after the rest)
    lm_changed = keys()
    assert lm_changed[0] != before[0] and lm_changed[1:] == before[1:]
    (main / "acestep-v15-turbo" / "config.json").write_text('{"v": 333}')  # the DiT changed
    dit_changed = keys()
    assert dit_changed[0] == lm_changed[0]
    assert dit_changed[1] != lm_changed[1] and dit_changed[2] != lm_changed[2]


def test_the_planner_lm_of_a_pulled_repository_is_checked_against_its_pull_record(tmp_path, monkeypatch):
    from songforge.engine.ace_step.params import LM
    from songforge.models import record_pull

    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    main = tmp_path / "models" / MODEL
    (main / "vae").mkdir(parents=True)
    (main / "vae" / "config.json").write_text("{}")
    record_pull(main, MODEL, "ACE-Step/Ace-Step1.5", "0" * 40)  # a pull from before the catalogue took the LM
    (main / LM).mkdir()
    (main / LM / "config.json").write_text("{}")
    assert model_need(MODEL).missing == ("*.safetensors", "tokenizer_config.json")
    for name in ("model.safetensors", "tokenizer_config.json", "tokenizer.json", "chat_template.jinja"):
        (main / LM / name).write_text("{}")
    record_pull(main, MODEL, "ACE-Step/Ace-Step1.5", "0" * 40)
    (main / LM / "tokenizer.json").unlink()  # a recorded file no pattern names: the record says it is gone
    (main / "vae" / "config.json").unlink()  # the DiT side's loss is the render's need, not the planner's
    need = model_need(MODEL)  # what preflight asks (the song's plan key would name the gone file too)
    assert need.missing == ("tokenizer.json",) and need.folder == main / LM


def test_the_vocab_maps_each_code_to_its_own_token(planner):
    names = planner.tokenizer.convert_ids_to_tokens(planner.vocab.code_ids.tolist())
    assert names == [f"<|audio_code_{c}|>" for c in range(CODES)]
    assert planner.tokenizer.convert_ids_to_tokens(planner.vocab.think_end_id) == "</think>"
    assert planner.vocab.code_mask().nonzero().flatten().tolist() == sorted(planner.vocab.code_ids.tolist())


def reference_warp(scores: list[float], top_k: int, top_p: float, temperature: float) -> list[float]:
    """Top-k, top-p and temperature written out plainly, one row of Python floats: the k best (ties kept), then
    the fewest best ids whose probabilities (after top-k) add up past p, then the division."""
    inf = float("inf")
    if top_k:
        kth = sorted(scores, reverse=True)[min(top_k, len(scores)) - 1]
        scores = [x if x >= kth else -inf for x in scores]
    if top_p < 1.0:
        top = max(scores)
        weights = [np.exp(x - top) if x > -inf else 0.0 for x in scores]
        total, kept, mass = sum(weights), set(), 0.0
        for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
            kept.add(i)
            mass += weights[i] / total
            if mass > top_p:
                break
        scores = [x if i in kept else -inf for i, x in enumerate(scores)]
    return [x / temperature for x in scores]


@pytest.mark.parametrize("top_k, top_p", [(0, 0.9), (5, 1.0), (7, 0.6), (0, 0.3), (40, 0.95)])
def test_warp_filters_as_a_plain_top_k_top_p_does(top_k, top_p):
    from songforge.engine.ace_step.planner.generate import warp

    scores = torch.randn(3, 50, generator=torch.Generator().manual_seed(top_k), dtype=torch.float64) * 3
    ours = warp(scores, Sampling(0.7, top_p, top_k, 2.0))
    expected = torch.tensor([reference_warp(row.tolist(), top_k, top_p, 0.7) for row in scores], dtype=torch.float64)
    assert torch.equal(torch.isinf(ours), torch.isinf(expected))
    torch.testing.assert_close(ours[~torch.isinf(ours)], expected[~torch.isinf(expected)])
    assert (~torch.isinf(ours)).sum(-1).min() >= 1


def test_the_plan_key_follows_its_knobs_seed_and_lm_and_the_render_key_its_plan(folder, tmp_path):
    """The real cache keys (tasks.cache.StageCache, as the step runner computes them)."""
    import shutil

    from songforge.artifacts import output
    from songforge.engine.ace_step.steps import render_call
    from tasks.cache import StageCache

    def key(step: str, call, inputs=None) -> str:
        return StageCache(stage="").compute_key(None, {"step": step, "params": call, "inputs": inputs or {},
                                                       "song_dir": tmp_path / "song"}, {})

    lm = Path(shutil.copytree(folder, tmp_path / "lm"))
    base = key("ace-step/plan", plan_call(song_of(tmp_path / "ace", lm)))
    others = [key("ace-step/plan", plan_call(song_of(tmp_path / "ace", lm, **knob)))
              for knob in ({"cfg_scale": 3.0}, {"temperature": 0.5}, {"top_p": 0.5}, {"top_k": 9}, {"think": False})]
    others.append(key("ace-step/plan", plan_call(song_of(tmp_path / "ace", lm, seed=1))))
    assert key("ace-step/plan", plan_call(song_of(tmp_path / "ace", lm))) == base
    (lm / "config.json").write_text((lm / "config.json").read_text().replace("{", '{"edited": 1, ', 1))
    others.append(key("ace-step/plan", plan_call(song_of(tmp_path / "ace", lm))))
    assert len({base, *others}) == len(others) + 1

    render = render_call(song_of(tmp_path / "ace", lm))
    plans = []
    for codes in ([1, 2, 3], [1, 2, 4]):
        path = tmp_path / f"plan-{codes[-1]}.json"
        path.write_text(json.dumps({"codes": codes}))
        plans.append(key("ace-step/render", render, {"plan": output("plan", {}, plan=path)}))
    assert plans[0] != plans[1]


def test_a_song_longer_than_the_lm_can_plan_is_refused_before_the_lm_loads(folder, tmp_path):
    import shutil

    lm = Path(shutil.copytree(folder, tmp_path / "lm"))
    config = json.loads((lm / "config.json").read_text())
    (lm / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 400}))
    (lm / "model.safetensors").write_bytes(b"not weights")  # loading them would fail otherwise: nothing loads
    song = SongSpec(title="Long", lyrics=LYRICS, duration_s=60, bpm=96, key="F# minor",
                    engine={"name": "ace-step", "params": {"planner": {"enabled": True, "model": str(lm),
                                                                         "think": False}}})
    with pytest.raises(EngineError, match=r"more than its LM's 400 .*300 codes for duration_s 60 .*Fix: shorten "
                                          r"duration_s or the lyrics"):
        PLAN.run(plan_call(song), {}, tmp_path / "song", None)
    assert not (tmp_path / "song").exists()


def test_a_compiled_decoder_keeps_one_bucketed_cache_and_decodes_what_the_eager_one_does(folder):
    """CPU: `compile` never compiles here, but takes the GPU's path through the kept, bucketed decoder (one cache
    per row count and 1024-position bucket, reset between songs): the codes are the eager decoder's."""
    from songforge.engine.ace_step.planner.model import BUCKET, decoder

    planner = load_planner(folder)  # its own model: the kept decoders live on it
    s = Sampling(1.5, 0.9, 0, 2.0)
    for duration in (10, 12):  # two songs of one bucket: prompt + 50 or 60 codes
        cond, uncond = prompts(planner, call_of(folder, duration))
        codes = prompt.code_count(duration)
        eager = code_phase(planner, cond, uncond, codes, s, [torch.Generator().manual_seed(s_) for s_ in (1, 2)])
        kept = code_phase(planner, cond, uncond, codes, s, [torch.Generator().manual_seed(s_) for s_ in (1, 2)],
                          compile=True)
        assert torch.equal(eager, kept)
    (only,) = planner.model._songforge_decoders.values()  # both songs (4 rows each) shared one decoder
    assert only.length == BUCKET and decoder(planner.model, 4, BUCKET - 5, compile=True) is only
    assert decoder(planner.model, 2, 100, compile=True) is not only and decoder(planner.model, 4, 100).length == 100


def test_a_songs_takes_plan_as_one_batch_each_as_it_would_alone(folder, tmp_path):
    """PLAN's Batching (as flows/plan.py runs it): takes alike but for their seed share a key and one LM load; each
    folder then holds the plan its take gets alone, which the take's own step finds instead of planning again."""
    batching = PLAN.batching
    calls = [plan_call(song_of(tmp_path / "ace", folder, seed=seed, think=True)) for seed in (3, 4)]
    assert batching.key(calls[0]) == batching.key(calls[1])
    assert batching.key(plan_call(song_of(tmp_path / "ace", folder, seed=3, cfg_scale=3.0))) != batching.key(calls[0])
    folders = [tmp_path / "batch" / f"take-{n}" for n in (1, 2)]
    assert batching.ready(calls[0], folders[0]) is None
    batching.run(list(zip(calls, folders)), None)
    for call, where in zip(calls, folders):
        made = batching.ready(call, where)
        alone = PLAN.run(call, {}, tmp_path / "alone" / str(call.seed), None)
        ours, theirs = (json.loads(out.path("plan").read_text()) for out in (made, alone))
        assert ours == theirs and ours["seed"] == call.seed
    assert batching.ready(calls[1], folders[0]) is None  # another take's plan is not this one's
