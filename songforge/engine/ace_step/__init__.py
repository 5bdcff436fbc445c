"""ACE-Step 1.5 on diffusers' AceStepPipeline: a DiT + Oobleck VAE that renders a whole song's mix (48 kHz stereo)
from a free-text caption, lyrics, bpm, key and duration; its vocal and instrumental stems come from the `separate`
step. params: the knobs; weights: the catalogue entry, folder layouts and conversion; pipeline: loading and memory
modes; render: one text2music (or cover) call; edit: repaint and extend an existing take; edit_step: the
repaint step `songforge edit` plans; planner/: the optional 5 Hz planner LM and its `plan` step; steps: the engine
and its steps."""
