"""Stable Audio Open 1.0 as an instrumental engine, through diffusers' StableAudioPipeline (DiT, Oobleck VAE,
T5 text encoder): params.py (its knobs), weights.py (catalogue entry, what a folder holds, the offline loader),
engine.py (the engine and its one `generate` step). It renders at most 47 s: a longer song is refused when its
params load."""
