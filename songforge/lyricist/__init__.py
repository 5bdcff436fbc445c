"""The lyricist: an LLM drafts songs in YuE's format, checked by fit rules and sent back to repair what breaks them.

fit: the rules a singable song keeps; draft: a song as the model writes it, parsed from JSON or plain text;
prompts: the instructions, in the song's language; endpoint: an OpenAI-compatible chat client; local: the same
chat in process with transformers; repair: the draft, check, send-back loop; album and edit: a brief made into
an album file, a song added or rewritten in place; brief: a song's lyrics_brief drafted before it is planned.
The settings (LyricistParams) are songforge.lyricist_params': song params read them, and this folder reads songs.
"""
