"""Stem separation with python-audio-separator (the UVR model family), offline: models (catalogue entries, folders,
what loading needs), chunks (pure chunking and crossfade), separator (load a model, separate an array).

Import the submodules: this package imports nothing itself, so that the pure parts need no audio-separator.
"""
