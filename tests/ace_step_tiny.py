"""A tiny random ACE-Step 1.5 pipeline for tests: every component diffusers' AceStepPipeline has (DiT, condition
encoder, audio tokenizer and detokenizer, Oobleck VAE at 48 kHz stereo, Qwen3 text encoder, a byte-level BPE
tokenizer trained in memory), random weights, saved with save_pretrained in the pipeline's own folder layout.

Never the real model: shapes are a few channels wide; the VAE keeps the real 48 kHz rate but downsamples by
1920 // 4 = 480 (100 latent frames a second) with 4 latent channels, so a 10 s song is 1000 frames. The VAE's
encoder width is twice its decoder's input channels (the encode paths need it: see DEPENDENCIES.md).
"""

from __future__ import annotations

from pathlib import Path

import torch

ACOUSTIC = 4  # latent channels of the VAE = the DiT's acoustic width = the timbre encoder's input
WIDTH = 32
LAYERS = dict(num_attention_heads=4, num_key_value_heads=2, head_dim=8, rope_theta=10000.0, sliding_window=16)


def tiny_tokenizer():
    """A byte-level BPE tokenizer built here (no hub), with Qwen's end-of-text and pad tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ["# Instruction\nFill the audio semantic mask based on the given conditions:\n# Caption\npop, piano, "
              "female vocal\n# Metas\n- bpm: 120\n- keyscale: C major\n", "# Languages\nen\n\n# Lyric\n[verse]\n"
              "Little light upon the hill\nShining on and shining still\n"] * 4
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def tiny_components(seed: int = 0, turbo: bool = True, pool_window_size: int = 2) -> dict:
    """The pipeline's components with random weights (seeded), as AceStepPipeline(**components) takes them.
    pool_window_size: latent frames per audio code (20 makes the planner's 5 codes a second span the 100 latent
    frames a second of this VAE, as the real 5 do its 25)."""
    from diffusers import AceStepTransformer1DModel, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.pipelines.ace_step import (AceStepAudioTokenDetokenizer, AceStepAudioTokenizer,
                                              AceStepConditionEncoder)
    from transformers import Qwen3Config, Qwen3Model

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    transformer = AceStepTransformer1DModel(hidden_size=WIDTH, intermediate_size=64, num_hidden_layers=2,
                                            in_channels=3 * ACOUSTIC, audio_acoustic_hidden_dim=ACOUSTIC,
                                            patch_size=2, is_turbo=turbo, **LAYERS)
    text_encoder = Qwen3Model(Qwen3Config(hidden_size=WIDTH, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                                          vocab_size=len(tokenizer), max_position_embeddings=4096))
    condition_encoder = AceStepConditionEncoder(hidden_size=WIDTH, intermediate_size=64, text_hidden_dim=WIDTH,
                                                timbre_hidden_dim=ACOUSTIC, num_lyric_encoder_hidden_layers=2,
                                                num_timbre_encoder_hidden_layers=2, **LAYERS)
    with torch.no_grad():  # the real converter bakes encoded silence here; random values stand in for it
        condition_encoder.silence_latent.normal_(0.0, 0.5)
    pooler = dict(hidden_size=WIDTH, intermediate_size=64, audio_acoustic_hidden_dim=ACOUSTIC,
                  pool_window_size=pool_window_size,
                  num_attention_pooler_hidden_layers=1, **LAYERS)
    audio_tokenizer = AceStepAudioTokenizer(fsq_dim=WIDTH, fsq_input_levels=[4, 4, 4], fsq_input_num_quantizers=1,
                                            **pooler)
    detokenizer = AceStepAudioTokenDetokenizer(**pooler)
    vae = AutoencoderOobleck(encoder_hidden_size=2 * ACOUSTIC, downsampling_ratios=[2, 4, 6, 10],
                             channel_multiples=[1, 2, 2, 2], decoder_channels=8, decoder_input_channels=ACOUSTIC,
                             audio_channels=2, sampling_rate=48000)
    with torch.no_grad():  # a random decoder's biases add a DC offset that swamps what the latents say: drop them
        for name, parameter in vae.decoder.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
    return {"transformer": transformer, "condition_encoder": condition_encoder, "vae": vae,
            "text_encoder": text_encoder, "tokenizer": tokenizer,
            "scheduler": FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
            "audio_tokenizer": audio_tokenizer, "audio_token_detokenizer": detokenizer}


def write_tiny_ace_step(folder: Path, seed: int = 0, turbo: bool = True, pool_window_size: int = 2) -> Path:
    """The tiny pipeline saved (safetensors) as diffusers' AceStepPipeline folder layout: model_index.json and one
    subfolder per component."""
    from diffusers import AceStepPipeline

    AceStepPipeline(**tiny_components(seed, turbo, pool_window_size)).save_pretrained(folder, safe_serialization=True)
    return Path(folder)
