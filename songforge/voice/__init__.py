"""Voice processing of a song's vocal stem (songforge.voice.rvc: RVC v2 voice conversion)."""
