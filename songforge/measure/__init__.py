"""Measurements of finished audio: loudness, pitch, tempo, key, spectrum."""
