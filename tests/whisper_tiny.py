"""A tiny random-weight Whisper folder in the real layout, built with no hub access (not a test module).

The real architecture and preprocessing (80 mel bins, 30 s windows of 3000 frames, 1500 encoder positions, the
multilingual token layout: <|endoftext|>, <|startoftranscript|>, the language tokens, task tokens,
<|notimestamps|> as the last special token, then the 1501 timestamp tokens), with tiny widths and a byte-level
BPE of the 256 byte symbols only (no merges). `save_pretrained` writes what `from_pretrained` reads back, as a
`songforge models pull whisper-...` folder holds it. Random weights test the code paths, never what Whisper hears.
"""

from __future__ import annotations

from pathlib import Path

import torch

LANGUAGES = ("en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it")


def _byte_vocab() -> dict[str, int]:
    """GPT-2's byte -> printable character table (the symbols a byte-level BPE starts from), as a vocabulary."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {symbol: index for index, symbol in enumerate(bytes_to_unicode().values())}


def build_tokenizer():
    """A WhisperTokenizer with Whisper's special tokens and timestamp tokens in their real order."""
    from transformers import AddedToken, WhisperTokenizer

    tokenizer = WhisperTokenizer(vocab=_byte_vocab(), merges=[])
    specials = (["<|startoftranscript|>"] + [f"<|{code}|>" for code in LANGUAGES]
                + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                   "<|notimestamps|>"])
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    timestamps = [AddedToken(f"<|{i * 0.02:.2f}|>", lstrip=False, rstrip=False, normalized=False)
                  for i in range(1501)]
    tokenizer.add_tokens(timestamps)
    return tokenizer


def save_tiny_whisper(folder: Path, seed: int = 0, max_length: int = 12) -> Path:
    """config.json, model.safetensors, generation_config.json and the processor's files in `folder`. `max_length`:
    tokens per 30 s window, prompt included (the real 448 would make random weights babble for minutes on CPU)."""
    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration
    from transformers import WhisperProcessor

    tokenizer = build_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    eot, sot = ids("<|endoftext|>"), ids("<|startoftranscript|>")
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_source_positions=1500, max_target_positions=448, pad_token_id=eot, bos_token_id=eot, eos_token_id=eot,
        decoder_start_token_id=sot, suppress_tokens=[], begin_suppress_tokens=[ids("Ġ"), eot])
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    generation = GenerationConfig(
        decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, bos_token_id=eot, max_length=max_length,
        is_multilingual=True, lang_to_id={f"<|{code}|>": ids(f"<|{code}|>") for code in LANGUAGES},
        task_to_id={"translate": ids("<|translate|>"), "transcribe": ids("<|transcribe|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"), prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=50, suppress_tokens=[], begin_suppress_tokens=[ids("Ġ"), eot])
    model.generation_config = generation
    folder = Path(folder)
    model.save_pretrained(folder)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer).save_pretrained(folder)
    return folder
