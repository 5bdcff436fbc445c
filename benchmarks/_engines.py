"""engine_speed.py's models and its load clock: each engine's pipeline built with random weights at reduced (CPU) or
real (--device cuda) shapes, saved with save_pretrained for the engine's own loader; and LoadClock, the seconds a run
spends loading models (from_pretrained, moving them to the device), so that load and render are reported apart.

Real shapes, the values of the published config.json files (the hub cannot be reached from this box to re-read them:
where diffusers' or transformers' class defaults mirror a model, they were checked against those, which holds for
ACE-Step's DiT and encoders, Stable Audio Open's DiT and MusicGen small):
- ACE-Step 1.5 turbo: ACE-Step/Ace-Step1.5 `acestep-v15-turbo/config.json` (DiT hidden 2048, 24 layers, 16 heads,
  8 KV heads, head_dim 128, in_channels 192, acoustic width 64, patch 2, text_hidden_dim 1024, 8 lyric and 4
  timbre encoder layers, pooler window 5), the values diffusers 0.42's AceStep classes default to; `vae/config.json`
  (Oobleck, 48 kHz stereo, encoder 128, decoder 128, channel multiples 1-2-4-8-16, downsampling 2-4-4-6-10, 64
  latent channels); `Qwen3-Embedding-0.6B/config.json` (hidden 1024, 28 layers, 16 heads, 8 KV, 3072 MLP,
  vocabulary 151,669).
- MusicGen small: facebook/musicgen-small `config.json` (decoder 1024 wide, 24 layers, 16 heads, FFN 4096, 4
  codebooks of 2048; T5-base text encoder, vocabulary 32,128; EnCodec 32 kHz, 50 Hz); melody:
  facebook/musicgen-melody (decoder 1536 wide, 48 layers, 24 heads, FFN 6144, 12 chroma bins).
- Stable Audio Open 1.0: stabilityai/stable-audio-open-1.0 `transformer/config.json` (24 layers, 24 heads of 64,
  12 KV heads, 64 in/out channels, cross-attention 768, time projection 256, global states 1536, sample_size
  1024), `vae/config.json` (encoder 128, decoder 128, multiples 1-2-4-8-16, downsampling 2-4-4-8-8, 64 latent
  channels, 44.1 kHz), T5-base text encoder (vocabulary 32,128), projection 768.

Tokenizers: the tests' tiny in-memory ones (tests/ace_step_tiny.py, musicgen_tiny.py, stable_audio_tiny.py) make
the token ids everywhere: a text encoder's cost depends on the prompt's length, not on which ids it holds, and
there is no vocabulary-wide output layer in these text encoders. The vocabulary does matter to the embedding
tables' size (weights to load, memory): on --device cuda they have the real vocabularies above (ids of the tiny
tokenizer index into them); on the CPU the tokenizer's own (a few hundred entries).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

QWEN3_VOCAB = 151_669  # Qwen3-Embedding-0.6B's text encoder
T5_VOCAB = 32_128  # T5-base's (MusicGen's and Stable Audio Open's text encoders)

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
                         num_key_value_heads=8, head_dim=128, vocab_size=QWEN3_VOCAB),
        "musicgen": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096),
        "musicgen_melody": dict(hidden_size=1536, num_hidden_layers=48, num_attention_heads=24, ffn_dim=6144),
        "musicgen_t5": dict(d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12, vocab_size=T5_VOCAB),
        "encodec": dict(num_filters=64, hidden_size=128),
        "sao_dit": dict(num_layers=24, attention_head_dim=64, num_attention_heads=24, num_key_value_attention_heads=12,
                        cross_attention_dim=768, time_proj_dim=256, global_states_input_dim=1536,
                        cross_attention_input_dim=768),
        "sao_vae": dict(encoder_hidden_size=128, decoder_channels=128, channel_multiples=[1, 2, 4, 8, 16]),
        "sao_t5": dict(d_model=768, d_ff=3072, d_kv=64, num_heads=12, num_layers=12, vocab_size=T5_VOCAB),
    },
}


def with_vocab(config: dict, tokenizer_size: int) -> dict:
    """The shape's config with its vocabulary: the real one where the shape names it, else the tokenizer's."""
    return {"vocab_size": tokenizer_size, **config}


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
    text = Qwen3Model(Qwen3Config(**with_vocab(shape["ace_text"], len(tokenizer)), max_position_embeddings=4096))
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
    AceStepPipeline(**parts).to(dtype).save_pretrained(folder, safe_serialization=True)
    return folder


def musicgen_folder(folder: Path, shape: dict, melody: bool) -> Path:
    """A MusicGen (or MusicGen-Melody) of the shape's widths at the real rates: EnCodec 32 kHz, 50 Hz, 4 codebooks
    of 2048 codes; the processor's T5 tokenizer built in memory (tests/musicgen_tiny.py's)."""
    import transformers as tf
    from musicgen_tiny import RATE, t5_tokenizer

    tokenizer, vocab = t5_tokenizer()
    kind = "MusicgenMelody" if melody else "Musicgen"
    decoder = getattr(tf, f"{kind}DecoderConfig")(
        **shape["musicgen_melody" if melody and "musicgen_melody" in shape else "musicgen"], vocab_size=2048,
        num_codebooks=4, max_position_embeddings=2048, pad_token_id=2048, bos_token_id=2048, audio_channels=1)
    parts = {"text_encoder": tf.T5Config(**with_vocab(shape["musicgen_t5"], vocab)).to_dict(),
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
        "text_encoder": T5EncoderModel(T5Config(**with_vocab(shape["sao_t5"], len(tokenizer)), pad_token_id=0,
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


# ---------------------------------------------------------------- the load clock

class LoadClock:
    """Wall and CPU seconds spent loading models while `watching()`: inside transformers' and diffusers'
    from_pretrained (models and pipelines) and torch's Module.to (placing them on the device), outermost calls only
    (a pipeline's from_pretrained loads its models inside). The same clock on both sides of a comparison."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._depth = 0

    def _timed(self, call: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return call(*args, **kwargs)
            self._depth += 1
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                result = call(*args, **kwargs)
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                return result
            finally:
                self._depth -= 1
                self.wall += time.perf_counter() - wall
                self.cpu += time.process_time() - cpu
        return run

    @contextmanager
    def watching(self) -> Iterator["LoadClock"]:
        from diffusers import DiffusionPipeline, ModelMixin
        from transformers import PreTrainedModel

        loaders = [(cls, "from_pretrained") for cls in (PreTrainedModel, ModelMixin, DiffusionPipeline)]
        saved = [(cls, name, cls.__dict__[name]) for cls, name in [*loaders, (torch.nn.Module, "to")]]
        for cls, name, original in saved:
            if isinstance(original, classmethod):
                timed = self._timed(original.__func__)
                setattr(cls, name, classmethod(lambda klass, *a, _t=timed, **k: _t(klass, *a, **k)))
            else:
                setattr(cls, name, self._timed(original))
        try:
            yield self
        finally:
            for cls, name, original in saved:
                setattr(cls, name, original)
