"""Our own YuE v1 inference engine: tokenizer, token layouts, prompts, LLaMA, weights, sampling, stages 1
and 2, the X-Codec codec, the Vocos upsamplers (their work over arrays in engine.py), and YuEEngine with its
three steps of a song's plan (steps.py).

`compat="official"` reproduces infer.py token for token; the default `compat="fixed"` differs only here:

| official infer.py                                             | fixed (default)                                  |
|---------------------------------------------------------------|--------------------------------------------------|
| the last lyric section is never sung (segments = sections - 1) | every section is sung                           |
| stage 1 may draw any id above <EOA> (its block range is empty) | only <EOA> and codebook-0 ids can be drawn       |
| the unconditional CFG branch is normalised in bf16             | both branches in float32                         |
| a too-long history is cut from the front, header included      | the header stays; the oldest whole segments go   |
| stage 2 lets padding rows 83738.. and any codebook's ids out,  | each position emits only its own codebook's ids, |
| then "fixes" invalid codes with the row's most frequent value, | so there is nothing to fix, and every track      |
| which may be invalid too: such a track is written, and cannot  | decodes                                          |
| be decoded                                                     |                                                  |
| a track shorter than 6 s makes stage 2 fail                    | the short tail is generated alone                |
| a dual-track prompt needs stems of equal length                | the longer stem is trimmed                       |

Where `compat="official"` still differs from infer.py (its tokens and stage-2 files are the same):
- codes its fix step leaves invalid: infer.py writes them silently and its decoder fails inside the codec
  (`astype(int16)` keeps them out of 0..1023, the embedding lookup raises an IndexError on the CPU, a
  device-side assert on CUDA), after decoding the tracks before it. We write them too, with an
  InvalidCodesWarning naming the track and rows; decoding refuses them before loading the codec, with an
  EngineError naming the file (or track), the rows and the fix (compat: fixed);
- a stage-2 id in the padding rows 83738..: infer.py's `ids2npy` assert stops it after the tracks before
  it (vocal first) are saved; we raise an EngineError and write neither track.

Both modes: decoded audio is fused with the codec's low band per stem (official fuses the mix; we also
return that mix as Stems.mix), intermediate audio stays in memory instead of round-tripping through MP3,
and file names are deterministic (no uuid4, no stems overwritten by the next run).
"""
