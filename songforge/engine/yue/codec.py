"""X-Codec (xcodec_mini_infer) on transformers' XcodecModel: convert the official checkpoint, encode, decode, embed.

Codes here are raw codec codes (K, T) in 0..1023 at 50 frames/s and 16 kHz, never offset token ids (tokens.py).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from ...errors import AudioError, EngineError
from ...models import models_dir
from .tokens import CODEBOOK_SIZE, offset_codes

SAMPLE_RATE = 16000
HOP = 320  # samples per frame at 16 kHz: 50 frames/s
RATIOS = (8, 5, 4, 2)  # DAC down/upsampling, product = HOP
BANDWIDTHS = (0.5, 1, 1.5, 2, 4, 6)  # kbps; 0.5 per codebook, so 12 codebooks
CHECKPOINT = "final_ckpt/ckpt_00360000.pth"
SEMANTIC_CONFIG = "semantic_ckpts/hf_1_325000/config.json"
SEMANTIC_WEIGHTS = "semantic_ckpts/hf_1_325000/pytorch_model.bin"
CONVERTED = "hf"  # sub-folder of the pulled repo that holds the converted model
_WEIGHT_NORM = {"parametrizations.weight.original0": "weight_g", "parametrizations.weight.original1": "weight_v"}
_UNIT_LAYERS = {"snake1": 0, "conv1": 1, "snake2": 2, "conv2": 3}  # DAC ResidualUnit's nn.Sequential order
_LINEARS = {"fc": "fc_prior", "fc1": "fc_post1", "fc2": "fc_post2"}


def xcodec_mini_config(semantic_config: dict, encoder_hidden_size: int = 64, decoder_hidden_size: int = 1024,
                       hidden_size: int = 256):
    """XcodecConfig of xcodec_mini_infer (SPEC §7.2): 12 codebooks of 1024, hop 320, DAC 64/1024/256 + HuBERT.

    The DAC widths are parameters only so that a tiny test checkpoint converts through the same code.
    """
    from transformers import DacConfig, HubertConfig, XcodecConfig

    if semantic_config.get("model_type", "hubert") != "hubert":
        raise EngineError(f"{SEMANTIC_CONFIG} describes a '{semantic_config.get('model_type')}' model, not HuBERT. "
                          "Fix: re-download it with `songforge models pull xcodec`.")
    acoustic = DacConfig(encoder_hidden_size=encoder_hidden_size, decoder_hidden_size=decoder_hidden_size,
                         hidden_size=hidden_size, downsampling_ratios=list(RATIOS), upsampling_ratios=list(RATIOS),
                         sampling_rate=SAMPLE_RATE)
    return XcodecConfig(target_bandwidths=list(BANDWIDTHS), sample_rate=SAMPLE_RATE, codebook_size=CODEBOOK_SIZE,
                        acoustic_model_config=acoustic, semantic_model_config=HubertConfig.from_dict(semantic_config))


def official_name(name: str) -> str:
    """HF XcodecModel state-dict name (weight norm applied) -> its name in the official `codec_model` state dict.

        acoustic_encoder.block.0.res_unit2.conv1.parametrizations.weight.original1
                                                -> encoder.block.1.block.1.block.1.weight_v
        acoustic_decoder.block.1.conv_t1.parametrizations.weight.original0 -> decoder_2.model.2.block.1.weight_g
        quantizer.quantizers.3.codebook.embed -> quantizer.vq.layers.3._codebook.embed
        encoder_semantic.conv_blocks.0.conv.bias -> encoder_semantic.conv_blocks.0.conv.conv.bias
    """
    name = _canonical(name)
    head, _, rest = name.partition(".")
    if head == "acoustic_encoder":
        return "encoder." + _dac_name(rest, "block", {"snake1": 3, "conv1": 4})
    if head == "acoustic_decoder":
        return "decoder_2." + _dac_name(rest, "model", {"snake1": 0, "conv_t1": 1})
    if head in ("encoder_semantic", "decoder_semantic"):
        module, param = rest.rsplit(".", 1)
        return f"{head}.{module}.conv.{param}"  # RepCodec wraps every nn.Conv1d as `.conv`
    if head in _LINEARS:
        return f"{_LINEARS[head]}.{rest}"
    if head == "quantizer":
        return "quantizer." + re.sub(r"^quantizers\.(\d+)\.codebook\.", r"vq.layers.\1._codebook.", rest)
    if head == "semantic_model":
        return name
    raise EngineError(f"X-Codec parameter '{name}' has no official counterpart; this transformers version's "
                      "XcodecModel differs from the one songforge was written for")


def _dac_name(rest: str, seq: str, block_layers: dict[str, int]) -> str:
    """DAC encoder (seq 'block') or decoder (seq 'model') names: HF modules -> descript's nested nn.Sequential."""
    unit = re.fullmatch(r"block\.(\d+)\.res_unit(\d)\.(\w+)\.(.+)", rest)
    if unit:  # encoder units sit at block.0..2 of their block, decoder units at block.2..4
        i, j, layer, param = unit.groups()
        first_unit = 0 if seq == "block" else 2
        return f"{seq}.{int(i) + 1}.block.{int(j) - 1 + first_unit}.block.{_UNIT_LAYERS[layer]}.{param}"
    block = re.fullmatch(r"block\.(\d+)\.(\w+)\.(.+)", rest)
    if block:
        i, layer, param = block.groups()
        return f"{seq}.{int(i) + 1}.block.{block_layers[layer]}.{param}"
    layer, param = rest.split(".", 1)  # first conv, then after the blocks the final snake and conv
    position = {"conv1": 0, "snake1": len(RATIOS) + 1, "conv2": len(RATIOS) + 2}[layer]
    return f"{seq}.{position}.{param}"


def convert_official(official_dir: Path, dest: Path) -> Path:
    """Official xcodec_mini_infer folder -> `dest/config.json` + `dest/model.safetensors` (fp32, weight norm folded).

    Runs on CPU. Every key must map both ways (missing or unexpected keys raise EngineError naming them).
    `dest` appears complete or not at all: the model is written to a temp folder that is then renamed.
    """
    official_dir, dest = Path(official_dir), Path(dest)
    checkpoint, semantic_config = _official_files(official_dir)
    state = read_official_state(checkpoint, official_dir / SEMANTIC_WEIGHTS)
    config = xcodec_mini_config(json.loads(semantic_config.read_text()), **_acoustic_sizes(state, checkpoint))
    model = _model_from_official(config, state, checkpoint)
    _save_atomically(model, dest)
    return dest


def read_official_state(checkpoint: Path, semantic_weights: Path | None = None) -> dict[str, torch.Tensor]:
    """The official `codec_model` tensors, weight norm named weight_g/weight_v whatever torch saved them with.

    Should the checkpoint lack the HuBERT weights, they are taken from `semantic_weights` (pytorch_model.bin).
    """
    # Some X-Codec checkpoints pickle BytesIO objects next to the tensors; allowing that class runs no code.
    with torch.serialization.safe_globals([io.BytesIO]):
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or not isinstance(saved.get("codec_model"), dict):
        raise EngineError(f"{checkpoint} holds no 'codec_model' state dict; it is not an xcodec_mini_infer "
                          "checkpoint. Fix: re-download it with `songforge models pull xcodec`.")
    state = {k: v for k, v in saved["codec_model"].items() if isinstance(v, torch.Tensor)}
    if semantic_weights and semantic_weights.is_file() and not any(k.startswith("semantic_model.") for k in state):
        hubert = torch.load(semantic_weights, map_location="cpu", weights_only=True)
        state |= {f"semantic_model.{k}": v for k, v in hubert.items()}
    return {_canonical(k): v for k, v in state.items()}


def _canonical(name: str) -> str:
    """Weight norm named as in the official checkpoint (old torch): parametrizations...original0/1 -> weight_g/v."""
    for ours, theirs in _WEIGHT_NORM.items():
        name = name.replace(ours, theirs)
    return name


def _official_files(official_dir: Path) -> tuple[Path, Path]:
    for relative in (CHECKPOINT, SEMANTIC_CONFIG):
        if not (official_dir / relative).is_file():
            raise missing_file(official_dir / relative)
    return official_dir / CHECKPOINT, official_dir / SEMANTIC_CONFIG


def _acoustic_sizes(state: dict[str, torch.Tensor], checkpoint: Path) -> dict[str, int]:
    names = {"encoder_hidden_size": "encoder.block.0.weight_v", "decoder_hidden_size": "decoder_2.model.0.weight_v",
             "hidden_size": "fc_post2.weight"}
    absent = [name for name in names.values() if name not in state]
    if absent:
        raise EngineError(f"{checkpoint} lacks {absent}; it is not an xcodec_mini_infer checkpoint. "
                          "Fix: re-download it with `songforge models pull xcodec`.")
    return {field: int(state[name].shape[0]) for field, name in names.items()}


def _model_from_official(config, state: dict[str, torch.Tensor], checkpoint: Path):
    from transformers import XcodecModel

    model = XcodecModel(config)
    model.apply_weight_norm()  # the official DAC convs are weight-normed: load g and v, fold them below
    names = {official_name(k): k for k in model.state_dict()}
    missing, unexpected = sorted(names.keys() - state.keys()), sorted(state.keys() - names.keys())
    if missing or unexpected:
        raise EngineError(f"{checkpoint} does not match xcodec_mini_infer: missing keys {missing[:5]}, unexpected "
                          f"keys {unexpected[:5]} ({len(missing)} and {len(unexpected)} in all). "
                          "Fix: re-download it with `songforge models pull xcodec`.")
    try:
        model.load_state_dict({names[k]: v for k, v in state.items()}, strict=True)
    except RuntimeError as error:  # shapes differ from the config
        raise EngineError(f"{checkpoint} does not fit the xcodec_mini_infer architecture: {error}") from error
    model.remove_weight_norm()
    return model.eval()


def _save_atomically(model, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    old = tmp.with_suffix(".old")
    try:
        model.save_pretrained(tmp)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
    finally:
        for leftover in (tmp, old):
            shutil.rmtree(leftover, ignore_errors=True)


def missing_file(path: Path) -> EngineError:
    return EngineError(f"X-Codec file {path} is missing. Fix: run `songforge models pull xcodec` (downloads "
                       "m-a-p/xcodec_mini_infer and converts it).")


def load_codec(folder: Path | None = None, device: str | torch.device | None = None):
    """The XcodecModel in fp32, eval mode, on `device` (default CUDA if available).

    `folder` (default models_dir()/xcodec) holds a converted model (config.json + model.safetensors), or the
    official layout, converted into folder/hf on first use.
    """
    from transformers import XcodecModel

    folder = Path(folder) if folder is not None else models_dir() / "xcodec"
    converted = next((f for f in (folder, folder / CONVERTED) if (f / "model.safetensors").is_file()), None)
    if converted is None:
        converted = convert_official(folder, folder / CONVERTED)
    model, info = XcodecModel.from_pretrained(converted, dtype=torch.float32, local_files_only=True,
                                              output_loading_info=True)
    wrong = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if wrong:
        raise EngineError(f"converted X-Codec in {converted} does not load cleanly: {wrong}. Fix: delete "
                          f"{converted} and run `songforge models pull xcodec` again.")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return model.to(device=device, dtype=torch.float32).eval()


def _codes_tensor(codec, codes: np.ndarray) -> torch.Tensor:
    """Codes (K, T) -> long tensor (K, 1, T) on the codec's device, checked for range and codebook count."""
    codes = np.asarray(codes)
    offset_codes(codes)  # validates (K, T) and 0..1023
    if not 1 <= codes.shape[0] <= codec.quantizer.num_quantizers:
        raise EngineError(f"X-Codec codes have {codes.shape[0]} codebooks; the codec takes 1 to "
                          f"{codec.quantizer.num_quantizers}. Fix: pass (codebooks, frames), e.g. (8, T) from stage 2.")
    return torch.from_numpy(codes.astype(np.int64))[:, None, :].to(codec.device)


@torch.inference_mode()
def embed(codec, codes: np.ndarray) -> torch.Tensor:
    """Codes (K, T) -> summed RVQ codebook embeddings (1, 1024, T), before fc2: the Vocos upsampler's input.

    Equals the official `get_embed` (`quantizer.decode`).
    """
    return codec.quantizer.decode(_codes_tensor(codec, codes))


@torch.inference_mode()
def decode(codec, codes: np.ndarray) -> np.ndarray:
    """Codes (K, T), usually (8, T) -> float32 mono waveform (320*T,) at 16 kHz, unclipped."""
    audio = codec.decode(_codes_tensor(codec, codes).transpose(0, 1), return_dict=False)  # (1, 1, 320*T)
    return audio[0, 0].float().cpu().numpy()


@torch.inference_mode()
def encode(codec, audio: np.ndarray, sample_rate: int, n_codebooks: int = 1) -> np.ndarray:
    """Audio (samples,) or (samples, channels) at any rate -> codes (n_codebooks, T) int64, T ~ 50 per second.

    As the official ICL prompt path: channels averaged, resampled to 16 kHz, no normalisation; the whole
    file in one pass. n_codebooks 1 (the official 0.5 kbps) for prompts; 1, 2, 3, 4, 8 or 12 are possible.
    Resampling is soxr HQ, not torchaudio's sinc resampler, so codes can differ from the official ones at
    frames that sit on a codebook decision boundary.
    """
    from ...audio.io import resample, to_mono

    if n_codebooks * 0.5 not in BANDWIDTHS:
        raise EngineError(f"n_codebooks {n_codebooks} is not an X-Codec bandwidth. Fix: use 1, 2, 3, 4, 8 or 12.")
    mono = to_mono(np.asarray(audio, dtype=np.float32))
    mono = resample(mono[:, None], int(sample_rate), SAMPLE_RATE)[:, 0]
    if len(mono) < HOP or not np.isfinite(mono).all():
        raise AudioError(f"audio prompt of {len(mono)} samples at 16 kHz is too short or holds NaN/inf. "
                         "Fix: pass at least 0.02 s of finite audio (about 30 s is recommended).")
    x = torch.from_numpy(np.ascontiguousarray(mono))[None, None].to(codec.device)
    codes = codec.encode(x, bandwidth=n_codebooks * 0.5, return_dict=False)  # (1, K, T)
    return codes[0].cpu().numpy().astype(np.int64)
