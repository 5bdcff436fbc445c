"""The ASRs behind the intelligibility judge: a real one (pocketsphinx's English model hearing espeak-ng's speech)
and our Whisper code path on a tiny random Whisper, against transformers' own ASR pipeline on the same weights."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from whisper_tiny import save_tiny_whisper

from songforge.audio.io import read_audio, to_mono
from songforge.judge.asr import SAMPLE_RATE, loaded_asr, pocketsphinx_transcribe, whisper_transcribe
from songforge.judge.intelligibility import judge, phoneme_error_rate

SPOKEN = ["the paper planes are flying over the river tonight and I will wait for you",
          "we were singing in the morning light, hold my hand and never let it go",
          "gold is in the garden where the morning sleeps, count the silver dreams"]


def speak(text: str, path: Path) -> np.ndarray:
    """espeak-ng's US English voice saying `text`, as 16 kHz mono (the rate every ASR here reads)."""
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "110", "-w", str(path), text], check=True)
    audio, _ = read_audio(path, SAMPLE_RATE)
    return to_mono(audio)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> list[np.ndarray]:
    folder = tmp_path_factory.mktemp("spoken")
    return [speak(text, folder / f"{n}.wav") for n, text in enumerate(SPOKEN)]


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory) -> Path:
    return save_tiny_whisper(tmp_path_factory.mktemp("models") / "tiny-whisper")


def test_pocketsphinx_hears_the_right_lyrics_far_better_than_other_lyrics(spoken):
    for n, audio in enumerate(spoken):
        heard = judge(audio, SPOKEN[n], "en", pocketsphinx_transcribe).best.transcript
        pers = [phoneme_error_rate(lyrics, heard, "en") for lyrics in SPOKEN]
        others = [per for m, per in enumerate(pers) if m != n]
        assert pers[n] < 0.65, (SPOKEN[n], pers)
        assert min(others) > pers[n] + 0.2, (SPOKEN[n], pers)


def test_pocketsphinx_refuses_another_language(spoken):
    with pytest.raises(ValueError, match="English only"):
        pocketsphinx_transcribe(spoken[0], "zh")


def loaded(folder: Path):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    model = WhisperForConditionalGeneration.from_pretrained(str(folder), local_files_only=True).eval()
    return model, WhisperProcessor.from_pretrained(str(folder), local_files_only=True)


def windows(model) -> list:
    """Records every input the encoder gets (a forward hook: the model runs as it is)."""
    seen: list = []

    def hook(module, args, kwargs, out) -> None:
        seen.append((args[0] if args else kwargs["input_features"]).detach().clone())
    model.model.encoder.register_forward_hook(hook, with_kwargs=True)
    return seen


def test_our_whisper_call_is_transformers_own_pipeline_on_short_and_long_audio(tiny_whisper, spoken):
    from transformers import pipeline

    model, processor = loaded(tiny_whisper)
    asr = pipeline("automatic-speech-recognition", model=model, tokenizer=processor.tokenizer,
                   feature_extractor=processor.feature_extractor, device="cpu")
    # The pipeline's own defaults are beam search (5) and 256 new tokens; ours is one greedy pass to the model's
    # max_length: given the same decoding, the two must agree token for token.
    same = {"language": "en", "task": "transcribe", "num_beams": 1, "max_length": model.generation_config.max_length}
    short = spoken[0]
    long = np.concatenate([spoken[1], np.zeros(SAMPLE_RATE * 62, np.float32), spoken[2]])  # > 2 windows of 30 s
    for audio in (short, long):
        ours = whisper_transcribe(model, processor, audio, "en")
        theirs = asr(audio.copy(), generate_kwargs=same, return_timestamps=len(audio) > 30 * SAMPLE_RATE)["text"]
        assert ours and ours == theirs.strip()


def test_long_audio_goes_through_whisper_in_30_second_windows(tiny_whisper, spoken):
    model, processor = loaded(tiny_whisper)
    seen = windows(model)
    whisper_transcribe(model, processor, spoken[0], "en")
    assert seen and all(window.shape == (1, 80, 3000) for window in seen)  # a short vocal: padded to 30 s
    seen.clear()
    long = np.concatenate([spoken[1], np.zeros(SAMPLE_RATE * 62, np.float32), spoken[2]])  # speech, 62 s rest, speech
    whisper_transcribe(model, processor, long, "en")
    assert len(seen) >= 3 and all(window.shape == (1, 80, 3000) for window in seen)  # no 30 s window holds it all
    assert float(seen[0].std()) > 0 and float(seen[-1].std()) > 0  # the first words and the last were both heard
    assert any(window.max() == window.min() for window in seen[1:-1])  # a window of the rest between


def test_sampled_passes_differ_from_greedy_and_repeat_with_their_seed(tiny_whisper, spoken):
    import torch

    model, processor = loaded(tiny_whisper)
    greedy = whisper_transcribe(model, processor, spoken[0], "en")
    state = torch.random.get_rng_state()
    sampled = [whisper_transcribe(model, processor, spoken[0], "en", 1.0, seed) for seed in (1, 2, 1)]
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's random state is left alone
    assert sampled[0] == sampled[2] and sampled[0] != sampled[1] and greedy not in sampled
    assert greedy == whisper_transcribe(model, processor, spoken[0], "en")


def test_loaded_asr_runs_a_whisper_folder_and_pocketsphinx_alike(tiny_whisper, spoken):
    model, processor = loaded(tiny_whisper)
    with loaded_asr(str(tiny_whisper), "cpu") as transcribe:
        assert transcribe(spoken[0], "ja", 0.0, 0) == whisper_transcribe(model, processor, spoken[0], "ja")
    with loaded_asr("pocketsphinx") as transcribe:
        assert "wait for you" in transcribe(spoken[0], "en")
