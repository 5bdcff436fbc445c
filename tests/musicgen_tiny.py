"""Tiny random MusicGen and MusicGen-Melody models for tests: a 1-layer T5, a 4-filter EnCodec at 32 kHz and 50 Hz
(the real rates, 2 codebooks of 32 codes) and a 1-layer decoder, saved with save_pretrained beside a processor
whose T5 tokenizer is built in memory. Random weights: they make noise, never music; never the real models."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = "pop rock jazz ambient piano guitar drums calm happy bpm major minor".split() + list("CDEFGAB,1234567890")
RATE = 32000


def t5_tokenizer():
    """A unigram T5 tokenizer built in memory (no hub) over WORDS, and its vocabulary size."""
    from transformers import T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + word, -float(n)) for n, word in enumerate(WORDS)]
    return T5TokenizerFast(vocab=vocab, extra_ids=0), len(vocab)


def _parts(vocab: int) -> dict:
    from transformers import EncodecConfig, T5Config

    text = T5Config(vocab_size=vocab, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2)
    return {"text_encoder": text.to_dict(),
            "audio_encoder": EncodecConfig(sampling_rate=RATE, audio_channels=1, num_filters=4, hidden_size=16,
                                           upsampling_ratios=[8, 5, 4, 4], codebook_size=32, codebook_dim=16,
                                           num_lstm_layers=1, num_residual_layers=1, compress=2,
                                           target_bandwidths=[1.0]).to_dict()}


def _codebooks(model) -> None:
    """EnCodec's codebooks start as zeros (every code would decode to the same sound): random ones instead."""
    with torch.no_grad():
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()


def write_musicgen(folder: Path, seed: int = 0) -> Path:
    """A tiny text-only MusicGen in transformers' format at `folder`."""
    from transformers import (EncodecFeatureExtractor, MusicgenConfig, MusicgenDecoderConfig,
                              MusicgenForConditionalGeneration, MusicgenProcessor)

    tokenizer, vocab = t5_tokenizer()
    decoder = MusicgenDecoderConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                    ffn_dim=32, num_codebooks=2, max_position_embeddings=2048, pad_token_id=32,
                                    bos_token_id=32, audio_channels=1, initializer_factor=0.5)
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(MusicgenConfig(decoder=decoder.to_dict(), **_parts(vocab)))
    _codebooks(model)
    model.generation_config.decoder_start_token_id = 32  # as the real checkpoints' generation_config.json
    model.save_pretrained(folder)
    MusicgenProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=RATE), tokenizer).save_pretrained(folder)
    return folder


def write_melody(folder: Path, seed: int = 0) -> Path:
    """A tiny MusicGen-Melody (chroma of 12 bins at the real extractor's hop) in transformers' format."""
    from transformers import (MusicgenMelodyConfig, MusicgenMelodyDecoderConfig, MusicgenMelodyFeatureExtractor,
                              MusicgenMelodyForConditionalGeneration, MusicgenMelodyProcessor)

    tokenizer, vocab = t5_tokenizer()
    decoder = MusicgenMelodyDecoderConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                          ffn_dim=32, num_codebooks=2, max_position_embeddings=2400, pad_token_id=32,
                                          bos_token_id=32, audio_channels=1, initializer_factor=0.5)
    torch.manual_seed(seed)
    model = MusicgenMelodyForConditionalGeneration(MusicgenMelodyConfig(decoder=decoder.to_dict(), num_chroma=12,
                                                                        chroma_length=235, **_parts(vocab)))
    _codebooks(model)
    model.generation_config.decoder_start_token_id = 32
    model.save_pretrained(folder)
    MusicgenMelodyProcessor(MusicgenMelodyFeatureExtractor(sampling_rate=RATE), tokenizer).save_pretrained(folder)
    return folder
