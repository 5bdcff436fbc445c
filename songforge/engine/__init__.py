"""Engines turn a song into stems through their own steps of its plan (songforge.step); the registry finds them."""
