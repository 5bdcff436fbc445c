"""The sketch engine: an offline, seeded guide-track composer rendered with a General MIDI SoundFont."""

from .arrangement import Arrangement, Note, Track
from .compose import compose
from .engine import SketchEngine
from .params import SketchParams

__all__ = ["Arrangement", "Note", "SketchEngine", "SketchParams", "Track", "compose"]
