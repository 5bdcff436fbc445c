"""Our own YuE v1 inference engine: tokenizer, token layouts, prompts, LLaMA, weights, sampling, stages 1
and 2, the X-Codec codec, the Vocos upsamplers, and YuEEngine (engine.py) tying them together.

`compat="official"` reproduces infer.py token for token; the default `compat="fixed"` differs only here:

| official infer.py                                             | fixed (default)                                  |
|---------------------------------------------------------------|--------------------------------------------------|
| the last lyric section is never sung (segments = sections - 1) | every section is sung                           |
| stage 1 may draw any id above <EOA> (its block range is empty) | only <EOA> and codebook-0 ids can be drawn       |
| the unconditional CFG branch is normalised in bf16             | both branches in float32                         |
| a too-long history is cut from the front, header included      | the header stays; the oldest whole segments go   |
| stage 2 lets padding rows 83738.. and any codebook's ids out,  | each position emits only its own codebook's ids, |
| then "fixes" invalid codes with the row's most frequent value  | so there is nothing to fix                       |
| a track shorter than 6 s makes stage 2 fail                    | the short tail is generated alone                |
| a dual-track prompt needs stems of equal length                | the longer stem is trimmed                       |

Both modes: decoded audio is fused with the codec's low band per stem (official fuses the mix; we also
return that mix as Stems.mix), intermediate audio stays in memory instead of round-tripping through MP3,
and file names are deterministic (no uuid4, no stems overwritten by the next run).
"""
