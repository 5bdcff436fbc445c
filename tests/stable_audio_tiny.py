"""A tiny random Stable Audio Open pipeline for tests: every component diffusers' StableAudioPipeline has (the DiT,
the Oobleck VAE, a T5 text encoder with a word-level tokenizer built in memory, the projection model, the cosine
DPM-Solver scheduler), random weights, saved with save_pretrained in the pipeline's own folder layout.

Never the real model: a few channels wide; the VAE keeps the real 44.1 kHz stereo but hops 512 samples (not
2048) and the DiT holds 1024 latent frames, so the tiny model renders at most 1024 * 512 / 44100 = 11.89 s. The
VAE's encoder width is twice its decoder's input channels (the encode paths need it: see DEPENDENCIES.md).
"""

from __future__ import annotations

from pathlib import Path

import torch

LATENT = 4  # the VAE's latent channels = the DiT's in/out channels
CONDITIONING = 8  # the projection's width: the DiT's cross-attention input; start + end seconds: twice it
WORDS = ("ambient techno lofi hip hop jazz piano warm pads analog bass drums guitar strings calm dark uplifting "
         "sad happy BPM low quality noise vocals 60 90 100 110 120 128 140 , .").split()


def tiny_tokenizer(max_length: int = 16):
    """A unigram T5 tokenizer built here (no hub): T5's pad, end and unknown tokens, and the words tests use,
    each one piece (a word it does not know is <unk>)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *((f"\u2581{w}", -1.0) for w in dict.fromkeys(WORDS))]
    unigram = Tokenizer(models.Unigram(pieces, unk_id=2))
    unigram.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Punctuation(), pre_tokenizers.Metaspace()])
    unigram.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=unigram, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                           model_max_length=max_length, extra_ids=0)


def tiny_components(seed: int = 0, sample_size: int = 1024) -> dict:
    """The pipeline's components with random weights (seeded), as StableAudioPipeline(**components) takes them."""
    from diffusers import AutoencoderOobleck, CosineDPMSolverMultistepScheduler, StableAudioDiTModel
    from diffusers.pipelines.stable_audio import StableAudioProjectionModel
    from transformers import T5Config, T5EncoderModel

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    transformer = StableAudioDiTModel(sample_size=sample_size, in_channels=LATENT, num_layers=2, attention_head_dim=8,
                                      num_attention_heads=2, num_key_value_attention_heads=1, out_channels=LATENT,
                                      cross_attention_dim=16, time_proj_dim=8, global_states_input_dim=2 * CONDITIONING,
                                      cross_attention_input_dim=CONDITIONING)
    vae = AutoencoderOobleck(encoder_hidden_size=2 * LATENT, downsampling_ratios=[4, 8, 16], channel_multiples=[1, 2, 2],
                             decoder_channels=4, decoder_input_channels=LATENT, audio_channels=2, sampling_rate=44100)
    text_encoder = T5EncoderModel(T5Config(d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=2,
                                           vocab_size=len(tokenizer), pad_token_id=0, eos_token_id=1))
    projection = StableAudioProjectionModel(text_encoder_dim=16, conditioning_dim=CONDITIONING, min_value=0,
                                            max_value=512)
    scheduler = CosineDPMSolverMultistepScheduler(sigma_min=0.3, sigma_max=500, solver_order=2,
                                                  prediction_type="v_prediction", sigma_data=1.0,
                                                  sigma_schedule="exponential")
    return {"vae": vae, "text_encoder": text_encoder, "projection_model": projection, "tokenizer": tokenizer,
            "transformer": transformer, "scheduler": scheduler}


def write_tiny_stable_audio(folder: Path, seed: int = 0, sample_size: int = 1024) -> Path:
    """The tiny pipeline saved (safetensors) in diffusers' StableAudioPipeline layout: model_index.json and one
    subfolder per component."""
    from diffusers import StableAudioPipeline

    StableAudioPipeline(**tiny_components(seed, sample_size)).save_pretrained(folder, safe_serialization=True)
    return Path(folder)
