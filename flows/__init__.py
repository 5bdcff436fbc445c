"""Prefect flows over songs: an album, a sweep, a deployment's song; each submits its songs' plans."""
