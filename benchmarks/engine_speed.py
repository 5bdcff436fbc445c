"""Speed and peak memory of every engine's steps, and ACE-Step's render against diffusers (a script, not a test).

    .venv/bin/python benchmarks/engine_speed.py                 # CPU: reduced shapes, short songs (a few minutes)
    .venv/bin/python benchmarks/engine_speed.py --device cuda   # GPU: the real shapes, 30 s songs

Every model gets random weights (speed does not depend on their values: the numbers are speed, never music),
is saved with save_pretrained and loaded by the engine's own loader, and each engine's steps run as the song flow
runs them (`step.params(song)`, then `step.run`, take files written). Times are scaled to seconds per 30 s of
audio (a diffusion engine's cost per step is linear in its latent length to first order; Stable Audio Open always
renders its full 47 s window, so its row is the time of one 30 s song). Peak memory is per step: on CUDA
torch.cuda.max_memory_allocated above what was allocated before, on CPU the resident set sampled every 2 ms above
its level before (yue_speed.peak_memory), in a run of its own (the sampler thread slows the timed ones). Times are
wall and the process's CPU time, each the fastest of the runs.

ACE-Step's render: in the same run, on the same saved weights and seed, diffusers' AceStepPipeline called as its
documentation shows (`AceStepPipeline.from_pretrained(folder)`, `.to(device)`, `pipe(prompt=..., lyrics=...,
audio_duration=..., ...).audios`, `sf.write(...)`) and our render step (load, render, take files written); the
runs alternate and the fastest of each is kept. Target (issue 14): our step adds at most 5 % to diffusers' time,
judged on CPU time on the CPU (this box is shared: wall times swing by tens of %) and on wall time on a GPU.
The script imports the album flow first, as a worker process has: a full garbage collection walks every live
object (about 0.5 s with Prefect and MLflow loaded), a cost the step's own code decides whether to pay.

Real shapes (--device cuda), the values of the published config.json files (the hub cannot be reached from this
box to re-read them: where diffusers' or transformers' class defaults mirror a model, they were checked against
those, which holds for ACE-Step's DiT and encoders, Stable Audio Open's DiT and MusicGen small):
- ACE-Step 1.5 turbo: ACE-Step/Ace-Step1.5 `acestep-v15-turbo/config.json` (DiT hidden 2048, 24 layers, 16 heads,
  8 KV heads, head_dim 128, in_channels 192, acoustic width 64, patch 2, text_hidden_dim 1024, 8 lyric and 4
  timbre encoder layers, pooler window 5), the values diffusers 0.42's AceStep classes default to; `vae/config.json`
  (Oobleck, 48 kHz stereo, encoder 128, decoder 128, channel multiples 1-2-4-8-16, downsampling 2-4-4-6-10, 64
  latent channels); `Qwen3-Embedding-0.6B/config.json` (hidden 1024, 28 layers, 16 heads, 8 KV, 3072 MLP).
- MusicGen small: facebook/musicgen-small `config.json` (decoder 1024 wide, 24 layers, 16 heads, FFN 4096, 4
  codebooks of 2048; T5-base text encoder; EnCodec 32 kHz, 50 Hz); melody: facebook/musicgen-melody (decoder 1536
  wide, 48 layers, 24 heads, FFN 6144, 12 chroma bins).
- Stable Audio Open 1.0: stabilityai/stable-audio-open-1.0 `transformer/config.json` (24 layers, 24 heads of 64,
  12 KV heads, 64 in/out channels, cross-attention 768, time projection 256, global states 1536, sample_size
  1024), `vae/config.json` (encoder 128, decoder 128, multiples 1-2-4-8-16, downsampling 2-4-4-8-8, 64 latent
  channels, 44.1 kHz), T5-base text encoder, projection 768.
The GPU path has not been run here (no GPU lent): RESULTS.md says so.
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]  # run as a script: the sibling module, test tokenizers
from yue_speed import return_freed_memory_to_the_os, sync, timed  # noqa: E402

from songforge.params import SongSpec  # noqa: E402

ENGINES = ("sketch", "ace-step", "musicgen", "musicgen-melody", "stable-audio-open")
TARGET_OVERHEAD = 0.05  # issue 14: our ACE-Step render adds at most 5 % to diffusers' pipeline
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nSing it loud\n"

# Reduced CPU shapes (the real ones: the module's docstring); the latent rates are the real ones.
SHAPES: dict[str, dict[str, dict]] = {
    "cpu": {
        "ace_dit": dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
                        num_key_value_heads=2, head_dim=64),
        "ace_encoders": dict(num_lyric_encoder_hidden_layers=2, num_timbre_encoder_hidden_layers=2),
        "ace_vae": dict(encoder_hidden_size=32, decoder_channels=16, channel_multiples=[1, 2, 4, 8, 8]),
        "ace_text": dict(hidden_size=256, intermediate_size=768, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=64),
        "musicgen": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, ffn_dim=1024),
        "musicgen_t5": dict(d_model=128, d_kv=32, d_ff=256, num_layers=2, num_heads=4),
        "encodec": dict(num_filters=8, hidden_size=64),
        "sao_dit": dict(num_layers=4, attention_head_dim=32, num_attention_heads=4, num_key_value_attention_heads=2,
                        cross_attention_dim=128, time_proj_dim=64, global_states_input_dim=256,
                        cross_attention_input_dim=128),
        "sao_vae": dict(encoder_hidden_size=16, decoder_channels=16, channel_multiples=[1, 2, 2, 4, 4]),
        "sao_t5": dict(d_model=128, d_ff=256, d_kv=32, num_heads=4, num_layers=2),
    },
    "cuda": {
        "ace_dit": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=24, num_attention_heads=16,
                        num_key_value_heads=8, head_dim=128),
        "ace_encoders": dict(num_lyric_encoder_hidden_layers=8, num_timbre_encoder_hidden_layers=4),
        "ace_vae": dict(encoder_hidden_size=128, decoder_channels=128, channel_multiples=[1, 2, 4, 8, 16]),
        "ace_text": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                         num_key_value_heads=8, head_dim=128),
        "musicgen": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096),
        "musicgen_melody": dict(hidden_size=1536, num_hidden_layers=48, num_attention_heads=24, ffn_dim=6144),
        "musicgen_t5": dict(d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12),
        "encodec": dict(num_filters=64, hidden_size=128),
        "sao_dit": dict(num_layers=24, attention_head_dim=64, num_attention_heads=24, num_key_value_attention_heads=12,
                        cross_attention_dim=768, time_proj_dim=256, global_states_input_dim=1536,
                        cross_attention_input_dim=768),
        "sao_vae": dict(encoder_hidden_size=128, decoder_channels=128, channel_multiples=[1, 2, 4, 8, 16]),
        "sao_t5": dict(d_model=768, d_ff=3072, d_kv=64, num_heads=12, num_layers=12),
    },
}


# ---------------------------------------------------------------- building the models

def ace_step_folder(folder: Path, shape: dict, dtype: torch.dtype) -> Path:
    """An AceStepPipeline of the shape's widths (real latent rate: 48 kHz / 1920 = 25 Hz), saved in its layout."""
    from ace_step_tiny import tiny_tokenizer
    from diffusers import (AceStepPipeline, AceStepTransformer1DModel, AutoencoderOobleck,
                           FlowMatchEulerDiscreteScheduler)
    from diffusers.pipelines.ace_step import (AceStepAudioTokenDetokenizer, AceStepAudioTokenizer,
                                              AceStepConditionEncoder)
    from transformers import Qwen3Config, Qwen3Model

    tokenizer, dit, acoustic = tiny_tokenizer(), shape["ace_dit"], 64
    torch.manual_seed(0)
    text = Qwen3Model(Qwen3Config(**shape["ace_text"], vocab_size=len(tokenizer), max_position_embeddings=4096))
    encoder = {k: v for k, v in dit.items() if k != "num_hidden_layers"}
    pooler = dict(**encoder, audio_acoustic_hidden_dim=acoustic, pool_window_size=5,
                  num_attention_pooler_hidden_layers=2)
    parts = {
        "transformer": AceStepTransformer1DModel(**dit, in_channels=3 * acoustic, audio_acoustic_hidden_dim=acoustic,
                                                 patch_size=2, is_turbo=True),
        "condition_encoder": AceStepConditionEncoder(**encoder, **shape["ace_encoders"], timbre_hidden_dim=acoustic,
                                                     text_hidden_dim=shape["ace_text"]["hidden_size"]),
        "audio_tokenizer": AceStepAudioTokenizer(**pooler, fsq_dim=dit["hidden_size"]),
        "audio_token_detokenizer": AceStepAudioTokenDetokenizer(**pooler),
        "vae": AutoencoderOobleck(**shape["ace_vae"], downsampling_ratios=[2, 4, 4, 6, 10],
                                  decoder_input_channels=acoustic, audio_channels=2, sampling_rate=48000),
        "text_encoder": text, "tokenizer": tokenizer,
        "scheduler": FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)}
    pipe = AceStepPipeline(**parts)
    pipe.to(dtype).save_pretrained(folder, safe_serialization=True)
    return folder


def musicgen_folder(folder: Path, shape: dict, melody: bool) -> Path:
    """A MusicGen (or MusicGen-Melody) of the shape's widths at the real rates: EnCodec 32 kHz, 50 Hz, 4 codebooks
    of 2048 codes; the processor's T5 tokenizer built in memory (tests/musicgen_tiny.py's)."""
    import transformers as tf
    from musicgen_tiny import RATE, _tokenizer

    tokenizer, vocab = _tokenizer()
    kind = "MusicgenMelody" if melody else "Musicgen"
    decoder = getattr(tf, f"{kind}DecoderConfig")(
        **shape["musicgen_melody" if melody and "musicgen_melody" in shape else "musicgen"], vocab_size=2048,
        num_codebooks=4, max_position_embeddings=2048, pad_token_id=2048, bos_token_id=2048, audio_channels=1)
    parts = {"text_encoder": tf.T5Config(vocab_size=vocab, **shape["musicgen_t5"]).to_dict(),
             "audio_encoder": tf.EncodecConfig(sampling_rate=RATE, audio_channels=1, upsampling_ratios=[8, 5, 4, 4],
                                               codebook_size=2048, target_bandwidths=[2.2], **shape["encodec"],
                                               ).to_dict()}
    extra = {"num_chroma": 12, "chroma_length": 235} if melody else {}
    torch.manual_seed(0)
    model = getattr(tf, f"{kind}ForConditionalGeneration")(
        getattr(tf, f"{kind}Config")(decoder=decoder.to_dict(), **parts, **extra))
    with torch.no_grad():  # zero codebooks would decode every code to the same sound
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    model.generation_config.decoder_start_token_id = 2048
    model.save_pretrained(folder)
    features = (tf.MusicgenMelodyFeatureExtractor(sampling_rate=RATE) if melody
                else tf.EncodecFeatureExtractor(feature_size=1, sampling_rate=RATE))
    getattr(tf, f"{kind}Processor")(features, tokenizer).save_pretrained(folder)
    return folder


def stable_audio_folder(folder: Path, shape: dict, dtype: torch.dtype) -> Path:
    """A StableAudioPipeline of the shape's widths at the real rates: 44.1 kHz stereo, hop 2048, 1024 latent
    frames (47.55 s), 64 latent channels."""
    from diffusers import AutoencoderOobleck, CosineDPMSolverMultistepScheduler, StableAudioDiTModel
    from diffusers import StableAudioPipeline
    from diffusers.pipelines.stable_audio import StableAudioProjectionModel
    from stable_audio_tiny import tiny_tokenizer
    from transformers import T5Config, T5EncoderModel

    tokenizer, dit, width = tiny_tokenizer(max_length=128), shape["sao_dit"], shape["sao_t5"]["d_model"]
    torch.manual_seed(0)
    parts = {
        "transformer": StableAudioDiTModel(sample_size=1024, in_channels=64, out_channels=64, **dit),
        "vae": AutoencoderOobleck(**shape["sao_vae"], downsampling_ratios=[2, 4, 4, 8, 8], decoder_input_channels=64,
                                  audio_channels=2, sampling_rate=44100),
        "text_encoder": T5EncoderModel(T5Config(**shape["sao_t5"], vocab_size=len(tokenizer), pad_token_id=0,
                                                eos_token_id=1)),
        "projection_model": StableAudioProjectionModel(text_encoder_dim=width,
                                                       conditioning_dim=dit["cross_attention_input_dim"],
                                                       min_value=0, max_value=512),
        "tokenizer": tokenizer,
        "scheduler": CosineDPMSolverMultistepScheduler(sigma_min=0.3, sigma_max=500, solver_order=2,
                                                       prediction_type="v_prediction", sigma_data=1.0,
                                                       sigma_schedule="exponential")}
    StableAudioPipeline(**parts).to(dtype).save_pretrained(folder, safe_serialization=True)
    return folder


# ---------------------------------------------------------------- running an engine's steps

def song_of(engine: str, params: dict, seconds: float, seed: int = 3) -> SongSpec:
    return SongSpec(title=f"bench {engine}", lyrics=LYRICS, seed=seed, duration_s=seconds, bpm=120,
                    genre=["pop"], instrument=["piano"], engine={"name": engine, "params": params})


def measured(device: torch.device, run: Callable[[], Any], memory: bool) -> tuple[Any, float, float, int]:
    """(result, wall seconds, CPU seconds of the process, peak extra bytes) of run(): with memory, the peak by
    yue_speed.timed (on CPU its resident-set sampler thread takes the GIL every 2 ms, so that run's times are not
    reported: NaN); without, the times alone (peak 0). A garbage collection first: what earlier runs left in
    reference cycles (diffusers' and transformers' models make some) is freed before, not during, the run."""
    gc.collect()
    if memory:
        result, _, peak = timed(device, run)
        return result, math.nan, math.nan, peak
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    sync(device)
    return result, time.perf_counter() - wall, time.process_time() - cpu, 0


def run_steps(song: SongSpec, folder: Path, device: torch.device, memory: bool) -> list[tuple[str, float, float, int]]:
    """Each step of the song's engine, run as the flow runs it: (step name, wall s, CPU s, peak extra bytes)."""
    made: dict[str, Any] = {}
    rows = []
    for step in song.engine.engine.steps:
        call = step.params(song, None)  # plan time (identities of the model folders: hashed here, once)
        if call is None:
            continue
        inputs = {role: made[role] for role in (*step.reads, *step.may_read) if role in made}
        out, wall, cpu, peak = measured(device, lambda: step.run(call, inputs, folder / step.name, None), memory)
        made |= {role: out for role in out.files}
        rows.append((step.name, wall, cpu, peak))
    return rows


def diffusers_ace_step(folder: Path, song: SongSpec, device: torch.device, dtype: torch.dtype,
                       out: Path) -> np.ndarray:
    """diffusers' pipeline as its documentation calls it, with the arguments our step gives it (same seed), its
    output saved to `out` as the documentation does; (samples, 2) float32."""
    import soundfile as sf
    from diffusers import AceStepPipeline

    from songforge.engine.ace_step.render import call_kwargs

    pipe = AceStepPipeline.from_pretrained(folder, torch_dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    audio = pipe(**call_kwargs(song, song.engine.params, song.seed)).audios
    sf.write(out, audio[0, 0].float().cpu().numpy(), 48000)  # the documentation saves it so
    return audio[0].float().cpu().numpy().T


def fastest(device: torch.device, repeats: int, *runs: Callable[[], Any]) -> list[tuple[Any, float, float, int]]:
    """Each run `repeats` times, alternating (a busy neighbour slows both alike), then once more for its peak
    memory: its last result, its fastest wall and CPU times, its peak."""
    best: list[list] = [[None, math.inf, math.inf, 0] for _ in runs]
    for _ in range(repeats):
        for slot, run in zip(best, runs):
            result, wall, cpu, _ = measured(device, run, memory=False)
            slot[:3] = [result, min(slot[1], wall), min(slot[2], cpu)]
    for slot, run in zip(best, runs):
        slot[3] = measured(device, run, memory=True)[3]
    return [tuple(slot) for slot in best]  # type: ignore[misc]


def ace_step_rows(scratch: Path, opts: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> list[tuple]:
    from songforge.audio.io import read_audio
    from songforge.engine.ace_step.steps import RENDER

    folder = ace_step_folder(scratch / "ace-step", SHAPES[device.type], dtype)
    memory = "resident" if device.type == "cuda" else "cpu"
    song = song_of("ace-step", {"model": str(folder), "memory": memory, "inference_steps": opts.steps,
                                "dtype": str(dtype).removeprefix("torch.")}, opts.seconds)
    call = RENDER.params(song, None)
    theirs = lambda: diffusers_ace_step(folder, song, device, dtype, scratch / "runs" / "diffusers.wav")
    ours = lambda: RENDER.run(call, {}, scratch / "runs" / "ace-step", None)
    ours(), theirs()  # warm-up: imports, first-call kernels, the model files in the page cache
    (base, wall_base, cpu_base, m_base), (made, wall_ours, cpu_ours, m_ours) = fastest(device, opts.repeats, theirs,
                                                                                        ours)
    mix = read_audio(made.path("engine_mix"))[0]
    samples = min(len(mix), len(base))
    error = float(np.max(np.abs(mix[:samples] - base[:samples]))) if samples else math.nan
    # on a shared CPU the process's CPU time is the steadier measure of the work; on a GPU it is the wall time
    judged, (ours_s, base_s) = ("CPU", (cpu_ours, cpu_base)) if device.type == "cpu" else \
        ("wall", (wall_ours, wall_base))
    overhead = ours_s / base_s - 1
    per30 = 30 / opts.seconds
    print(f"ace-step render, fastest of {opts.repeats}: ours {wall_ours:.3f} s wall / {cpu_ours:.3f} s CPU, "
          f"diffusers {wall_base:.3f} s / {cpu_base:.3f} s; our mix vs diffusers' audio: max |difference| "
          f"{error:.2e} over {samples} samples")
    verdict = "PASS" if overhead <= TARGET_OVERHEAD else "FAIL"
    return [("ace-step", "render (diffusers AceStepPipeline)", wall_base * per30, cpu_base * per30, m_base,
             "baseline"),
            ("ace-step", "render (songforge step)", wall_ours * per30, cpu_ours * per30, m_ours,
             f"{overhead:+.1%} {judged} time vs diffusers: {verdict} (target <= {TARGET_OVERHEAD:.0%})")]


def engine_rows(name: str, params: dict, seconds: float, scratch: Path, device: torch.device,
                scale_to_30: bool = True) -> list[tuple]:
    song = song_of(name, params, seconds)
    runs = scratch / "runs" / song.slug  # beside the model folders, never in them
    run_steps(song_of(name, params, min(seconds, 10.0), seed=1), runs / "warm-up", device, False)
    per30 = 30 / seconds if scale_to_30 else 1.0
    times = run_steps(song, runs / "timed", device, memory=False)
    peaks = run_steps(song, runs / "memory", device, memory=True)
    return [(name, step, wall * per30, cpu * per30, peak, "")
            for (step, wall, cpu, _), (*_, peak) in zip(times, peaks)]


def quiet() -> None:
    """Progress bars, deprecation notes and load reports off: the table is the output."""
    import warnings

    import diffusers
    import transformers

    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the project box is shared)")
    parser.add_argument("--seconds", type=float, help="song length timed (default 10 CPU, 30 GPU); Stable Audio "
                        "Open always renders a 30 s song")
    parser.add_argument("--steps", type=int, default=8, help="diffusion steps of ACE-Step and Stable Audio Open "
                        "(8: the turbo DiT's own; Stable Audio Open's card uses 100: scale its row by steps/8)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs of ACE-Step's render comparison")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"which to run (default all: {','.join(ENGINES)})")
    opts = parser.parse_args()
    wanted = set(opts.engines.split(","))
    if wanted - set(ENGINES):
        parser.error(f"--engines: {', '.join(sorted(wanted - set(ENGINES)))} not among {', '.join(ENGINES)}")
    quiet()
    import flows.album  # noqa: F401  the step runs in a worker: its heap (Prefect, MLflow) makes a gc.collect cost
    device = torch.device(opts.device)
    gpu = device.type == "cuda"
    torch.set_num_threads(opts.threads)
    return_freed_memory_to_the_os()
    opts.seconds = opts.seconds or (30.0 if gpu else 10.0)
    dtype = torch.bfloat16 if gpu else torch.float32
    name = torch.cuda.get_device_name(device) if gpu else f"{platform.processor() or platform.machine()} CPU"
    print(f"device: {name}, {opts.threads} thread(s), torch {torch.__version__}, {dtype}; songs of "
          f"{opts.seconds:g} s, {opts.steps} diffusion steps; random weights at {'real' if gpu else 'reduced'} shapes")
    start = time.perf_counter()
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="engine-speed-") as tmp:
        scratch = Path(tmp)
        shape = SHAPES[device.type]
        if "sketch" in wanted:
            rows += engine_rows("sketch", {}, opts.seconds, scratch, device)
        if "ace-step" in wanted:
            rows += ace_step_rows(scratch, opts, device, dtype)
        if "musicgen" in wanted:
            small = musicgen_folder(scratch / "musicgen", shape, melody=False)
            rows += engine_rows("musicgen", {"model": str(small)}, opts.seconds, scratch, device)
        if "musicgen-melody" in wanted:
            melody = musicgen_folder(scratch / "musicgen-melody", shape, melody=True)
            rows += [(f"{engine} (melody: sketch)", *rest) for engine, *rest in engine_rows(
                "musicgen", {"model": str(melody), "melody": "sketch"}, opts.seconds, scratch, device)]
        if "stable-audio-open" in wanted:
            sao = stable_audio_folder(scratch / "stable-audio", shape, dtype)
            rows += engine_rows("stable-audio-open", {"model": str(sao), "inference_steps": opts.steps,
                                                      "dtype": str(dtype).removeprefix("torch.")},
                                30.0, scratch, device, scale_to_30=False)
    print(f"\n| {'engine':30} | {'step':36} | {'s per 30 s':>10} | {'CPU s':>7} | {'peak MiB':>9} | note |")
    print(f"|{'-' * 32}|{'-' * 38}|{'-' * 12}|{'-' * 9}|{'-' * 11}|------|")
    for engine, step, wall, cpu, peak, note in rows:
        print(f"| {engine:30} | {step:36} | {wall:10.2f} | {cpu:7.2f} | {peak / 2 ** 20:9.1f} | {note} |")
    print(f"\nwhole run: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
