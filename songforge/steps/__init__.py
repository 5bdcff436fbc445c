"""The song's own steps (words, mix, master, measure, pictures), each a module that registers one Step.

An engine's steps live with the engine (songforge/engine/<name>/); a plugin's in its own package.
"""
