"""X-Codec token layouts of YuE as pure, symmetric functions over numpy arrays; no model, no tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import EngineError
from ...paths import atomic_path
from .tokenizer import EOA, SOA, STAGE_1, STAGE_2, XCODEC

XCODEC_OFFSET = 45334  # id of <xcodec/0/0> (codecmanipulator.py#L27-56)
CODEBOOK_SIZE = 1024
NUM_CODEBOOKS = 12
FRAMES_PER_S = 50  # X-Codec at 16 kHz, hop 320
STAGE2_CODEBOOKS = 8


def codebook_range(k: int) -> tuple[int, int]:
    """Token ids [lo, hi) of codebook k: codebook 0 is [45334, 46358), codebook 7 is [52502, 53526)."""
    lo = XCODEC_OFFSET + CODEBOOK_SIZE * int(k)
    return lo, lo + CODEBOOK_SIZE


def offset_codes(codes: np.ndarray, first_codebook: int = 0) -> np.ndarray:
    """Codes (K, T) in 0..1023 -> token ids (K, T) int64; row k belongs to codebook first_codebook + k.

        codes [[1, 2],        ids [[45335, 45336],
               [3, 4]]  ->         [46361, 46362]]
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.size and (codes.min() < 0 or codes.max() >= CODEBOOK_SIZE):
        raise EngineError(f"X-Codec codes must be a (codebooks, frames) array of values 0..1023; got shape "
                          f"{codes.shape}. Fix: pass codes from the codec, not token ids.")
    rows = XCODEC_OFFSET + CODEBOOK_SIZE * (first_codebook + np.arange(codes.shape[0]))
    return codes.astype(np.int64) + rows[:, None]


def unoffset_codes(ids: np.ndarray, first_codebook: int = 0) -> np.ndarray:
    """Inverse of `offset_codes`: token ids (K, T) -> codes (K, T) int64; an id outside its row's codebook raises."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 2:
        raise EngineError(f"token ids must be a (codebooks, frames) array; got shape {ids.shape}")
    rows = XCODEC_OFFSET + CODEBOOK_SIZE * (first_codebook + np.arange(ids.shape[0]))
    codes = ids - rows[:, None]
    bad = (codes < 0) | (codes >= CODEBOOK_SIZE)
    if bad.any():
        k, t = np.argwhere(bad)[0]
        raise EngineError(f"token {ids[k, t]} at codebook {first_codebook + k}, frame {t} is not an id of that "
                          f"codebook {codebook_range(first_codebook + k)}; the model sampled outside the audio range")
    return codes


def interleave_tracks(vocal: np.ndarray, instrumental: np.ndarray) -> np.ndarray:
    """Two (T,) streams -> one (2T,) stream, vocal first in every frame (stage 1's layout, 100 tokens/s).

        vocal [v0 v1 v2], instrumental [i0 i1 i2]  ->  [v0 i0 v1 i1 v2 i2]
    """
    vocal, instrumental = np.asarray(vocal), np.asarray(instrumental)
    if vocal.shape != instrumental.shape or vocal.ndim != 1:
        raise EngineError(f"vocal and instrumental streams must be 1-D and of equal length; got {vocal.shape} and "
                          f"{instrumental.shape}. Fix: trim both to the shorter one.")
    return np.stack([vocal, instrumental], axis=1).reshape(-1)


def deinterleave_tracks(stream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `interleave_tracks`: [v0 i0 v1 i1] -> ([v0 v1], [i0 i1]). The length must be even."""
    stream = np.asarray(stream)
    if stream.ndim != 1 or len(stream) % 2:
        raise EngineError(f"an interleaved stream must be 1-D of even length; got shape {stream.shape}")
    pairs = stream.reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def audio_spans(ids: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the token ids strictly inside each <SOA> ... <EOA> pair, in order.

        [text.. SOA XCODEC a b c EOA text.. SOA XCODEC d e EOA]  ->  [(s1, e1), (s2, e2)] covering `XCODEC a b c`, ...
    """
    ids = np.asarray(ids)
    starts, ends = np.flatnonzero(ids == SOA), np.flatnonzero(ids == EOA)
    if len(starts) != len(ends):
        raise EngineError(f"stage-1 output has {len(starts)} <SOA> but {len(ends)} <EOA> tokens; it cannot be "
                          "split into audio spans")
    return [(int(s) + 1, int(e)) for s, e in zip(starts, ends)]


def split_stage1(ids: np.ndarray, skip_spans: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stage-1 token stream -> (vocal codes, instrumental codes), each (1, T) int64, segments concatenated.

    Per span (the first `skip_spans` are an ICL reference and are skipped): drop one leading <xcodec>,
    cut to even length, de-interleave (even positions vocal, odd instrumental), remove codebook-0 offsets.
    """
    vocals, instrumentals = [], []
    for start, end in audio_spans(ids)[skip_spans:]:
        span = np.asarray(ids[start:end], dtype=np.int64)
        if len(span) and span[0] == XCODEC:
            span = span[1:]
        vocal, instrumental = deinterleave_tracks(span[: len(span) // 2 * 2])
        vocals.append(unoffset_codes(vocal[None]))
        instrumentals.append(unoffset_codes(instrumental[None]))
    if not vocals:
        raise EngineError("stage-1 output holds no generated audio span")
    return np.concatenate(vocals, axis=1), np.concatenate(instrumentals, axis=1)


def stage2_prompt(cb0_codes: np.ndarray) -> np.ndarray:
    """Codebook-0 codes (T,) -> stage-2 prompt ids (T + 3,): [<SOA> <stage_1> c0 .. c(T-1) <stage_2>]."""
    ids = offset_codes(np.asarray(cb0_codes)[None])[0]
    return np.concatenate([[SOA, STAGE_1], ids, [STAGE_2]]).astype(np.int64)


def flatten_frames(codes: np.ndarray) -> np.ndarray:
    """Codes (K, T) -> frame-major ids (T*K,), stage 2's output layout.

        codes [[a0 a1],          ids [a0 b0 c0 a1 b1 c1]   (a = codebook 0, b = codebook 1, ... with offsets)
               [b0 b1],   ->
               [c0 c1]]
    """
    return offset_codes(codes).T.reshape(-1)


def unflatten_frames(ids: np.ndarray, num_codebooks: int = STAGE2_CODEBOOKS) -> np.ndarray:
    """Inverse of `flatten_frames`: frame-major ids (T*K,) -> codes (K, T) int64."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) % num_codebooks:
        raise EngineError(f"{len(ids)} stage-2 ids do not split into frames of {num_codebooks} codebooks")
    return unoffset_codes(ids.reshape(-1, num_codebooks).T)


def invalid_codes(codes: np.ndarray) -> dict[int, np.ndarray]:
    """Codes (K, T) -> {codebook row: its frames (ascending)} that hold a value outside 0..1023; {} if none.

        codes [[   5, 7,    9],       {1: [0, 2]}
               [2048, 3, 4095]]  ->
    """
    codes = np.asarray(codes)
    bad = (codes < 0) | (codes >= CODEBOOK_SIZE)
    return {int(k): np.flatnonzero(bad[k]) for k in np.flatnonzero(bad.any(axis=1))}


def describe_invalid(codes: np.ndarray, max_spans: int = 4) -> str:
    """Where codes (K, T) are invalid, compactly; '' if nowhere.

        'codebook 1 at 196 of 300 frames (0-3, 5, 9-40, 42, ...), codebook 3 at 1 of 300 frames (7)'
    """
    rows = []
    for k, frames in invalid_codes(codes).items():
        spans = _runs(frames)
        shown = ", ".join(spans[:max_spans]) + (", ..." if len(spans) > max_spans else "")
        rows.append(f"codebook {k} at {len(frames)} of {np.shape(codes)[1]} frames ({shown})")
    return ", ".join(rows)


def _runs(frames: np.ndarray) -> list[str]:
    """Ascending frame numbers -> their runs as text: [0 1 2 3 5 9 10] -> ['0-3', '5', '9-10']."""
    breaks = np.flatnonzero(np.diff(frames) > 1)
    firsts, lasts = frames[np.r_[0, breaks + 1]], frames[np.r_[breaks, len(frames) - 1]]
    return [f"{a}" if a == b else f"{a}-{b}" for a, b in zip(firsts, lasts)]


def check_decodable(tracks: dict[str, np.ndarray]) -> None:
    """Raise, naming every track (name -> codes (K, T)) and row that holds codes outside 0..1023, before decoding.

    The codec cannot decode such codes (official infer.py fails inside it with an index error); only stage 2
    with compat: official writes them, when its "fix invalid codes" step picks a row's most frequent value
    that is itself invalid.
    """
    found = [f"{name}: {where}" for name, codes in tracks.items() if (where := describe_invalid(codes))]
    if found:
        raise EngineError(f"cannot decode codes outside 0..1023: {'; '.join(found)}. The codec has no entry for them "
                          "(the official decoder fails on them too). Stage 2 with compat: official leaves them when "
                          "its 'fix invalid codes' step picks a row's most frequent value that is itself invalid. "
                          "Fix: re-run stage 2 with the default compat: fixed, which never produces them.")


def save_codes(path: Path, codes: np.ndarray, allow_invalid: bool = False) -> Path:
    """Write codes (K, T) as the official uint32 `.npy`: (1, T) per track after stage 1, (8, T) after stage 2.

    allow_invalid writes what official stage 2 writes: codes it could not fix, as uint32 (`check_decodable`).
    """
    codes = np.asarray(codes)
    if not allow_invalid:
        offset_codes(codes)  # validates shape and range
    elif codes.ndim != 2 or codes.size and (codes.min() < 0 or codes.max() >= 2**32):
        raise EngineError(f"codes for {path} must be a (codebooks, frames) array of uint32 values; got shape "
                          f"{codes.shape}")
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, codes.astype(np.uint32))
    return Path(path)


def load_codes(path: Path, allow_invalid: bool = False) -> np.ndarray:
    """Read an official-layout `.npy` of codes -> (K, T) int64, checked to be 0..1023 (`check_decodable`).

    allow_invalid reads a file with codes outside 0..1023 too (official stage 2 may write them).
    """
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"codes file {path} is missing")
    codes = np.load(path).astype(np.int64)
    if codes.ndim != 2:
        raise EngineError(f"{path}: codes must be a (codebooks, frames) array; got shape {codes.shape}. "
                          "Fix: pass a .npy written by songforge yue stage1, stage2 or encode.")
    if not allow_invalid:
        check_decodable({str(path): codes})
    return codes
