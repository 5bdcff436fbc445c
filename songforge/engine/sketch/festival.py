"""Debian's Festival as a process: is it here (version, voices), run a Scheme script, read what it prints.

Only the plumbing lives here; what the guide vocal sings is singer.py's job. Festival reads its
scripts as Latin-1 (its Italian letter-to-sound rules match Latin-1 bytes), so scripts are written so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ...errors import EngineError

PROGRAM = "festival"
SCRIPT_ENCODING = "latin-1"
TIMEOUT_S = 300.0  # a whole song's singing takes seconds; this only stops a hung process
# What a festival failure's message tells the user to do: repair festival, or have this song's guide vocal
# played by the synth voice without words (the engine param; festival stays installed for other songs).
FIX = ("check the festival install (scripts/install.sh installs festival and its voices), or set the engine "
       "params `sing_words: false` to have the GM synth voice play the guide vocal without words.")


@dataclass(frozen=True)
class Festival:
    """An installed Festival: its version ('2.5.0') and the voices it can load (e.g. 'kal_diphone')."""

    version: str
    voices: frozenset[str]


@lru_cache(maxsize=None)
def installed_festival(program: str | None = None) -> Festival | None:
    """The Festival on PATH (or at `program`), or None when there is none or it does not start.

    Cached per process: whether Festival is here does not change while a run lasts.
    """
    path = shutil.which(program or PROGRAM)
    if path is None:
        return None
    try:
        out = subprocess.run([path, "-b", "(print festival_version)", "(print (voice.list))"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    version = lines[0].strip('"').split(":")[0]
    return Festival(version, frozenset(str(v) for v in parse_sexpr(lines[1])))


def run_script(script: str, workdir: Path) -> str:
    """Run a Scheme script with `festival -b` in `workdir`; its standard output. EngineError naming the
    script's failure (its exit status and Festival's own message) when it exits non-zero, or when it runs past
    TIMEOUT_S (then it is killed)."""
    path = workdir / "script.scm"
    path.write_bytes(script.encode(SCRIPT_ENCODING, errors="replace"))
    try:
        done = subprocess.run([shutil.which(PROGRAM) or PROGRAM, "-b", str(path)], cwd=workdir,
                              capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise EngineError(f"sketch engine: festival did not finish the guide vocal within {TIMEOUT_S:g} s "
                          f"({__name__}.TIMEOUT_S) and was stopped. Fix: {FIX}") from error
    except (OSError, subprocess.SubprocessError) as error:
        raise EngineError(f"sketch engine: festival did not run ({error}). Fix: {FIX}") from error
    stdout = done.stdout.decode(SCRIPT_ENCODING, errors="replace")
    if done.returncode != 0:
        message = done.stderr.decode(SCRIPT_ENCODING, errors="replace").strip()[-600:] or "it printed nothing"
        raise EngineError(f"sketch engine: festival failed singing the guide vocal ({exit_text(done.returncode)}): "
                          f"{message}. Fix: {FIX}")
    return stdout


def exit_text(returncode: int) -> str:
    """'exit 1', or for a crash the signal too: 'exit 139 (signal SIGSEGV)', 'killed by signal SIGSEGV'."""
    number = -returncode if returncode < 0 else returncode - 128
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = None
    if returncode < 0:
        return f"killed by signal {name or number}"
    return f"exit {returncode}" + (f" (signal {name})" if returncode > 128 and name else "")


def scratch_dir() -> tempfile.TemporaryDirectory:
    """A temporary folder for one song's scripts and waves, removed afterwards (nothing is cached on disk)."""
    return tempfile.TemporaryDirectory(prefix="songforge-festival-", dir=os.environ.get("TMPDIR"))


def scheme_string(text: str) -> str:
    """`text` as a Scheme string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_sexpr(text: str) -> list | str:
    """One printed s-expression as nested lists of strings (atoms and string literals alike)."""
    return _read(_tokens(text), 0)[0]


def _tokens(text: str) -> list[str]:
    tokens, i = [], 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(char)
            i += 1
        elif char == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            tokens.append("\0" + text[i + 1:j].replace('\\"', '"').replace("\\\\", "\\"))
            i = j + 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in '()"':
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def _read(tokens: list[str], at: int) -> tuple[list | str, int]:
    if tokens[at] == "(":
        items, at = [], at + 1
        while tokens[at] != ")":
            item, at = _read(tokens, at)
            items.append(item)
        return items, at + 1
    token = tokens[at]
    return (token[1:] if token.startswith("\0") else token), at + 1
