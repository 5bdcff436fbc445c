"""Replies for the scripted test server: a song that keeps every fit rule, and one that breaks three."""

from __future__ import annotations

import json

GOOD = {
    "title": "Harbour Lights", "genre": ["folk"], "mood": ["melancholic"], "instrument": ["acoustic guitar"],
    "voice": ["female"], "bpm": 96, "key": "D major",
    "lyrics": "[verse]\nThe boats are sleeping in the bay\nI pack the little that I own\n"
              "[chorus]\nGoodbye my harbour town\nI will not let you down\n"
              "[verse]\nThe gulls are calling out my name\nThe morning ferry takes me home\n"
              "[chorus]\nGoodbye my harbour town\nI will not let you down\n[outro]\n",
}
BAD = {**GOOD, "genre": ["harbourcore"],
       "lyrics": "[verse]\nThe boats are sleeping in the bay while all the tired fishermen are dreaming of the sea\n"
                 "I pack the little that I own\n[chorus]\nGoodbye my harbour town\nI will not let you down\n"}


def reply(song: dict, **changes) -> str:
    return json.dumps({**song, **changes})

