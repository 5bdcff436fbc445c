"""The musicgen engine: MusicGen and MusicGen-Melody (transformers) as an instrumental engine of the step plan."""
