"""The lyricist: an LLM drafts songs in YuE's format, checked by fit rules and sent back to repair what breaks them.

params: the backend and its generation settings (LyricistParams); fit: the rules a singable song keeps;
draft: a song as the model writes it, parsed from JSON or plain text; prompts: the instructions, in the song's
language; endpoint: an OpenAI-compatible chat client; local: the same chat in process with transformers;
repair: the draft, check, send-back loop; album: a brief made into an album file's songs.
"""
