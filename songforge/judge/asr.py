"""Speech to text for the intelligibility judge, behind one interface (`Transcriber`): Whisper through transformers
(the default, `whisper-large-v3`), any other transformers ASR checkpoint by catalogue name or folder, or
pocketsphinx's English model, which ships with the package (offline, English only; far weaker than Whisper).

Whisper decodes as transformers' own ASR pipeline does with no chunk length set: audio up to 30 s in one window,
longer audio by Whisper's sequential long-form decoding (30 s windows, each starting where the last timestamp of
the window before ended). The song's language is given to Whisper (no language detection), the task is transcribe.
A pass at temperature 0 is greedy; above 0 it samples, from a seed (the same pass gives the same text).
Weights load from disk only (`local_files_only`); `songforge models pull whisper-large-v3` fetches them.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from ..catalogue import HubModel, register_model
from ..licences import MIT, Licence
from ..errors import EngineError
from .folders import fix, licence_of, require

SAMPLE_RATE = 16_000  # every ASR here reads 16 kHz mono
WHISPER = "whisper-large-v3"
POCKETSPHINX = "pocketsphinx"
NEEDED = ("config.json",)  # a transformers checkpoint folder (its processor: preprocessor_ or processor_config.json)
# The weights are OpenAI's Whisper release (MIT, github.com/openai/whisper; the hub's card lists Apache-2.0, also
# commercial). Commit read from pinned URLs of two independent projects (openai/whisper-large-v3/blob/<sha>/...).
ENTRY = register_model(WHISPER, HubModel(
    "openai/whisper-large-v3", "06f233fe06e710322aca913c1bc4249a0d71fce1", MIT,
    ("*.json", "*.txt", "model.safetensors"), "Whisper large-v3 speech recognition (lyric intelligibility: PER)"))
POCKETSPHINX_LICENCE = Licence("BSD-2-Clause", "BSD 2-Clause License", "yes",
                               "https://github.com/cmusphinx/pocketsphinx/blob/master/LICENSE",
                               "CMU Sphinx's US English acoustic model and dictionary, shipped with pocketsphinx")


class Transcriber(Protocol):
    """(16 kHz mono float32 (samples,), our language code, temperature, seed) -> the text heard."""

    def __call__(self, audio: np.ndarray, language: str, temperature: float = 0.0, seed: int = 0) -> str: ...


def asr_licence(name: str) -> Licence:
    return POCKETSPHINX_LICENCE if name == POCKETSPHINX else licence_of(name)


@contextmanager
def loaded_asr(name: str, device: str | None = None) -> Iterator[Transcriber]:
    """The ASR a song names, loaded from disk for the length of the block (GPU memory freed after).
    EngineError naming the missing files and the pull command when its folder is incomplete."""
    if name == POCKETSPHINX:
        yield pocketsphinx_transcribe
        return
    from ..device_memory import default_device, free_memory

    folder = require(name, NEEDED, "speech recognition")
    device = device or default_device()
    try:
        transcribe = _whisper(folder, device) if _model_type(folder) == "whisper" else _pipeline(folder, device)
    except (OSError, ValueError) as error:  # a folder with the config but not the weights or processor files
        raise EngineError(f"speech recognition model '{name}' in {folder} cannot be loaded ({str(error)[:300]}). "
                          f"Fix: {fix(name)}.") from None
    try:
        yield transcribe
    finally:
        del transcribe
        free_memory()


def _model_type(folder: Path) -> str:
    import json

    return json.loads((folder / "config.json").read_text()).get("model_type", "")


def _whisper(folder: Path, device: str) -> Transcriber:
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model = WhisperForConditionalGeneration.from_pretrained(str(folder), local_files_only=True, dtype=dtype)
    processor = WhisperProcessor.from_pretrained(str(folder), local_files_only=True)
    model = model.to(device).eval()

    def transcribe(audio: np.ndarray, language: str, temperature: float = 0.0, seed: int = 0) -> str:
        return whisper_transcribe(model, processor, audio, language, temperature, seed)
    return transcribe


def whisper_transcribe(model, processor, audio: np.ndarray, language: str, temperature: float = 0.0,
                       seed: int = 0) -> str:
    """Whisper's text for 16 kHz mono `audio` (samples,) in `language`: one 30 s window (padded) for audio up to
    30 s, sequential long-form decoding beyond (features unpadded, timestamps predicted to seek)."""
    import torch

    extractor = processor.feature_extractor
    long = len(audio) > extractor.n_samples
    extra = {"truncation": False, "padding": "longest"} if long else {}
    features = extractor(np.asarray(audio, np.float32), sampling_rate=SAMPLE_RATE, return_tensors="pt",
                         return_attention_mask=True, **extra)
    options = {"language": language, "task": "transcribe", **({"return_timestamps": True} if long else {})}
    if temperature > 0:
        options |= {"do_sample": True, "temperature": temperature}
    device, dtype = model.device, model.dtype
    with torch.inference_mode(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # a sampled pass is reproducible, and leaves the caller's random state alone
        tokens = model.generate(features.input_features.to(device, dtype),
                                attention_mask=features.attention_mask.to(device), **options)
    return processor.batch_decode(tokens, skip_special_tokens=True)[0].strip()


def _pipeline(folder: Path, device: str) -> Transcriber:
    """Any other transformers ASR checkpoint (CTC, seq2seq) through transformers' pipeline, in 30 s chunks. It has
    no language setting; a CTC model is deterministic (every pass gives the same text)."""
    from transformers import pipeline

    asr = pipeline("automatic-speech-recognition", model=str(folder), device=device, chunk_length_s=30,
                   model_kwargs={"local_files_only": True})

    def transcribe(audio: np.ndarray, language: str, temperature: float = 0.0, seed: int = 0) -> str:
        return asr(np.asarray(audio, np.float32))["text"].strip()
    return transcribe


def pocketsphinx_transcribe(audio: np.ndarray, language: str, temperature: float = 0.0, seed: int = 0) -> str:
    """pocketsphinx's US English model (acoustic model, language model, CMU dictionary: all in the wheel) over the
    whole recording as one utterance; deterministic (temperature and seed do not apply)."""
    from pocketsphinx import Decoder

    if language != "en":
        raise ValueError(f"pocketsphinx hears English only, not '{language}'")
    pcm = (np.clip(np.asarray(audio, np.float32), -1.0, 1.0) * 32767).astype(np.int16)
    decoder = Decoder(samprate=SAMPLE_RATE, logfn="/dev/null")
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    heard = decoder.hyp()
    return heard.hypstr.strip() if heard is not None else ""
