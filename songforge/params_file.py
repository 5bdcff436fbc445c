"""Reading untrusted params input: YAML and text files under size and alias limits, and short excerpts for errors.

Params files, sweep files, overrides and lyrics files come from whoever starts a run. A file over
MAX_FILE_BYTES is refused before it is read, and a YAML document whose aliases expand to more than
MAX_NODES nodes (an "alias bomb": 10 levels of 9 aliases each is 3.5 billion values) is refused
while it is still a graph of shared nodes, before anything walks the expanded form. Error messages
quote at most EXCERPT_CHARS of any value a file gave.
"""

from __future__ import annotations

import copy
import reprlib
from pathlib import Path
from typing import Any

import yaml

from .errors import ParamsError

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a hundred-song album with inline lyrics is under 200 KB
MAX_NODES = 100_000  # values after alias expansion: a hundred songs of fifty fields is 5,000
EXCERPT_CHARS = 80
_REPR = reprlib.Repr()  # bounded: a few items per level, two levels deep (Python 3.11 takes no init arguments)
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = EXCERPT_CHARS


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A repr of `value` of at most `limit` characters (+ '…'), built without walking all of a large value."""
    return clip(_REPR.repr(value), limit)


def clip(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` cut to `limit` characters, '…' marking a cut."""
    return text if len(text) <= limit else text[:limit] + "…"


def resolve_path(base_dir: Path, value: str | Path) -> Path:
    """A path a params file names: '~' expanded; relative paths from the file's folder `base_dir`."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def read_text_file(path: Path, field: str, source: str | None, fix_missing: str,
                   limit: int = MAX_FILE_BYTES) -> str:
    """A UTF-8 text file of at most `limit` bytes; ParamsError naming `field` otherwise (read no further)."""
    path = Path(path)
    if not path.is_file():  # also keeps FIFOs and devices (/dev/zero) from being read
        raise ParamsError(field, f"'{clip(str(path), 200)}' does not exist (or is not a file)", fix_missing, source)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise ParamsError(field, f"'{clip(path.name)}' cannot be read ({error.strerror})",
                          "check the file's permissions", source) from None
    if len(data) > limit:
        raise ParamsError(field, f"'{clip(path.name)}' is larger than {limit // 1024} KiB",
                          f"keep it under {limit // 1024} KiB (a whole album's text is a few KiB)", source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParamsError(field, f"'{clip(path.name)}' is not UTF-8 text (byte {error.start})",
                          "save it as UTF-8 text", source) from None


def read_yaml_file(path: Path, what: str, start_with: str, empty_ok: bool = False) -> dict[str, Any]:
    """The mapping in YAML file `path` (a `what` file), refused over MAX_FILE_BYTES or MAX_NODES expanded values.

    `start_with` completes the fix for a file that is not a mapping, e.g. "'title:' and 'songs:'";
    `empty_ok`: an empty file is an empty mapping.
    """
    source = str(path)
    if not Path(path).is_file():
        raise ParamsError("(file)", "no such file", f"check the path to the {what} file", source)
    text = read_text_file(path, "(file)", source, f"check the path to the {what} file")
    raw = load_yaml(text, source)
    if raw is None and empty_ok:
        return {}
    if not isinstance(raw, dict):
        raise ParamsError("(file)", f"the {what} file is not a mapping of fields", f"start with {start_with}", source)
    return raw


def load_yaml(text: str, source: str | None = None) -> Any:
    """yaml.safe_load, refusing documents that expand beyond MAX_NODES values or nest too deeply."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node, MAX_NODES, source)
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = clip(str(getattr(error, "problem", None) or error), 160)
        raise ParamsError("(file)", f"not valid YAML{where} ({problem})", "fix the YAML syntax", source) from None
    except RecursionError:
        raise ParamsError("(file)", "nests too deeply", "flatten the file's structure", source) from None
    finally:
        loader.dispose()


def expanded_size(node: yaml.Node, limit: int = MAX_NODES, source: str | None = None) -> int:
    """Nodes in the document once every alias is expanded; ParamsError past `limit` or on a recursive alias.

    Aliases are shared node objects, so sizes are memoised per node: linear in the file, not the expansion.
    """
    sizes: dict[int, int] = {}

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in sizes:
            if sizes[key] < 0:
                raise ParamsError("(file)", "a YAML alias refers to a value that contains it",
                                  "remove the recursive anchor ('&name' used inside itself)", source)
            return sizes[key]
        sizes[key] = -1  # being walked: seeing it again means a cycle
        children = current.value if isinstance(current, yaml.SequenceNode) else (
            [part for pair in current.value for part in pair] if isinstance(current, yaml.MappingNode) else [])
        total = 1 + sum(size(child) for child in children)
        if total > limit:
            raise ParamsError("(file)", f"expands to more than {limit:,} values through YAML aliases ('*name')",
                              "write the values out, or reuse fewer nested anchors", source)
        sizes[key] = total
        return total

    return size(node)


def deep_merge(base: Any, override: Any) -> Any:
    """`override` laid over `base`: mappings merged key by key at every depth (a nested block keeps the keys the
    override does not name), anything else replaced. Neither argument is modified. The one merge of params layers:
    an album's defaults under its songs, params.yaml's overrides over a song's engine params."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = deep_merge(merged.get(key), value) if isinstance(merged.get(key), dict) else copy.deepcopy(value)
    return merged
