"""Prefect flows over songs: one song, an album, (later) sweeps."""
