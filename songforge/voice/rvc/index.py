"""Feature retrieval from a voice's `.index` (faiss), as RVC does it: each frame's content feature is blended with
the weighted mean of its 8 nearest training features, so the sung words take on the voice's own textures.

`index_rate` is the blend: 0 keeps the singer's features, 1 uses only the voice's (RVC's seeds suggest 0.3-0.5:
the performance stays, the texture changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import EngineError
from .features import FEATURE_DIM

NEIGHBOURS = 8  # RVC's k
MIN_DISTANCE = 1e-12  # a frame equal to a training feature would weigh 1 / 0: it weighs 1 / this instead


@dataclass(frozen=True)
class FeatureIndex:
    """A voice's training features: the faiss index and every vector it holds ([n, 768] float32)."""

    index: object
    vectors: np.ndarray


def load_index(path: Path) -> FeatureIndex:
    """The index at `path` and its vectors; EngineError naming the file and the fix when it is not a 768-dim one."""
    import faiss

    path = Path(path)
    if not path.is_file():
        raise EngineError(f"feature index {path} does not exist. Fix: put the voice's .index beside its .pth under "
                          "the models folder's voices/, or leave refine_vocals.index out.")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as error:
        raise EngineError(f"{path} is not a faiss index ({str(error).splitlines()[0][:200]}). Fix: use the "
                          "added_*.index file RVC wrote for the voice.") from None
    if index.d != FEATURE_DIM or index.ntotal == 0:
        raise EngineError(f"{path} holds {index.ntotal} features of {index.d} values; an RVC v2 voice's index holds "
                          f"{FEATURE_DIM}-value features. Fix: use the v2 voice's own added_*.index.")
    return FeatureIndex(index, index.reconstruct_n(0, index.ntotal))


def retrieve(features: np.ndarray, index: FeatureIndex, rate: float) -> np.ndarray:
    """[T, 768] -> [T, 768]: rate * (the 8 nearest training features, weighted by 1 / squared distance squared,
    as RVC weighs them) + (1 - rate) * features."""
    if rate <= 0:
        return features
    query = np.ascontiguousarray(features, dtype=np.float32)
    distances, ids = index.index.search(query, NEIGHBOURS)  # squared L2 distances, as RVC's flat/IVF indexes give
    weights = 1.0 / np.square(np.maximum(distances.astype(np.float64), MIN_DISTANCE))  # -1 ids weigh ~0
    weights /= weights.sum(axis=1, keepdims=True)
    nearest = np.einsum("tk,tkd->td", weights, index.vectors[ids])
    return (rate * nearest + (1.0 - rate) * features).astype(np.float32)
