"""Takes that failed: pure detectors over audio (numpy arrays and a sample rate), each a named Flag with its evidence.

settings: the thresholds (a song's `flags: {...}`); flag: the Flag record; level: silence and clipping; timeline: the
lyric timeline an engine recorded; voice: a voice against that timeline; loops: repeated bars; judge: all of them.
"""
