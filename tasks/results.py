"""Stage results stored as JSON of our own schema, and a result storage that hands Prefect nothing else.

Prefect reads a stored result with whatever serializer the stored record names: cloudpickle by
default, and its JSON decoder builds any class a record names. So anyone who can write the
shared result store (NFS, S3) could run code on every host that looks up a cache key. Here:
- `ResultJSON` writes a result as plain JSON: JSON values, plus the few frozen dataclasses
  registered with `json_record` (StageOutput, FileRef, TrackedRun), tagged by our own names; a
  failed step's exception is kept as its type's name and message (StoredError), never the object.
- `StageKeys`, where every cached task's record lives, reads a record only if it names ResultJSON
  and its result parses under that schema with all its files still there, unchanged. Anything
  else reads as absent: Prefect runs the step again and writes its fresh record over the bad one
  at the same key. A cached result whose files were deleted is recomputed however often that happens.
- A song flow run's result (read by the album on another host) is read by `read_result`, which
  parses it only as our schema and never hands it to Prefect.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.filesystems import WritableFileSystem
from prefect.serializers import Serializer
from pydantic import Field

from songforge.artifacts import FileRef, StageOutput

SCHEMA = "songforge-result/1"
_TAG = "$record"
_RECORDS: dict[str, type] = {}


class RefusedRecord(ValueError):
    """A stored record that is not one of ours, or whose files are gone: read as absent."""


class StoredError(Exception):
    """The exception a failed step raised, as stored: its type's name and its message, never the object."""


def json_record(name: str):
    """Register a frozen dataclass as a type results may hold, under `name` (its tag in the JSON)."""
    def register(cls: type) -> type:
        assert dataclasses.is_dataclass(cls) and name not in _RECORDS, name
        _RECORDS[name] = cls
        cls.__json_record__ = name
        return cls
    return register


json_record("file")(FileRef)
json_record("stage-output")(StageOutput)


def to_json(value: Any) -> Any:
    """`value` as JSON values; a registered dataclass becomes {"$record": name, field: ...}."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value) and _TAG not in value:
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, BaseException):  # Prefect stores a failed step's exception as its result
        kind = type(value)
        return {_TAG: "error", "type": f"{kind.__module__}.{kind.__qualname__}", "message": str(value)[:10_000]}
    name = getattr(type(value), "__json_record__", None)
    if name is None:
        raise TypeError(f"a {type(value).__name__} has no form in songforge's result schema; "
                        "register it with tasks.results.json_record")
    return {_TAG: name, **{f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}}


def from_json(doc: Any) -> Any:
    """The inverse of to_json; a tag that names no registered type, or a field it lacks, is refused."""
    if isinstance(doc, list):
        return [from_json(item) for item in doc]
    if not isinstance(doc, dict):
        return doc
    if _TAG not in doc:
        return {key: from_json(item) for key, item in doc.items()}
    if doc[_TAG] == "error":
        return StoredError(f"{str(doc.get('type'))[:200]}: {str(doc.get('message'))}")
    cls = _RECORDS.get(doc[_TAG]) if isinstance(doc[_TAG], str) else None
    if cls is None:
        raise RefusedRecord(f"it names a type songforge does not store ({str(doc[_TAG])[:40]!r})")
    values = {key: item for key, item in doc.items() if key != _TAG}
    if not values.keys() <= {f.name for f in dataclasses.fields(cls)}:
        raise RefusedRecord(f"its {doc[_TAG]} has unknown fields")
    return cls(**{key: from_json(item) for key, item in values.items()})


class ResultJSON(Serializer):
    """Prefect serializer for songforge's results: plain JSON in our schema, never code."""

    type: str = Field(default="songforge-json", frozen=True)

    def dumps(self, obj: Any) -> bytes:
        return json.dumps({"schema": SCHEMA, "value": to_json(obj)}).encode()

    def loads(self, blob: bytes) -> Any:
        doc = json.loads(blob)
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise RefusedRecord(f"its result is not in the {SCHEMA} schema")
        return from_json(doc.get("value"))


def _checked(metadata: Any, result: Callable[[], bytes]) -> Any:
    """The value of a record with this metadata and result bytes, if the serializer is ours and its files are intact."""
    serializer = metadata.get("serializer") if isinstance(metadata, dict) else None
    if serializer != {"type": "songforge-json"}:
        raise RefusedRecord(f"its serializer is {str(serializer)[:60]}, not songforge-json")
    return _value(result)


def _value(result: Callable[[], bytes]) -> Any:
    """The result these bytes hold, parsed only as our JSON schema, if every file it names is intact."""
    try:
        value = ResultJSON().loads(result())
        intact = is_intact(value)
    except RefusedRecord:
        raise
    except Exception as error:  # a forged record can make any field anything
        raise RefusedRecord(f"its result does not parse ({type(error).__name__})") from None
    if not intact:
        raise RefusedRecord("files it names are gone or changed")
    return value


def is_intact(result: Any) -> bool:
    """Every file (and MLflow run) a result names is still there, unchanged."""
    if isinstance(result, (list, tuple)):
        return all(is_intact(item) for item in result)
    if isinstance(result, dict):
        return all(is_intact(item) for item in result.values())
    return not hasattr(result, "is_intact") or result.is_intact()


class StageKeys(WritableFileSystem):
    """Where Prefect keeps each cached step's record (the cache policy's key storage), beside the result store.

    A record is read only if it names our serializer and its result, read from the result store,
    parses under our schema with every file intact; Prefect then deserializes that result with the
    serializer the record names, which is therefore always ResultJSON.
    """

    _block_type_name = "songforge stage keys"

    async def aread_path(self, path: str) -> bytes:
        return self.read_path(path, _sync=True)

    @async_dispatch(aread_path)
    def read_path(self, path: str) -> bytes:
        content = _keys().read_path(path, _sync=True)
        try:
            metadata = json.loads(content)
            storage_key = str(metadata["storage_key"])
        except (ValueError, KeyError, TypeError):
            raise RefusedRecord("it is not a Prefect record") from None
        _checked(metadata, lambda: _store().read_path(storage_key, _sync=True))  # raises unless ours and intact
        return content

    async def awrite_path(self, path: str, content: bytes) -> str:
        return self.write_path(path, content, _sync=True)

    @async_dispatch(awrite_path)
    def write_path(self, path: str, content: bytes) -> str:
        return _keys().write_path(path, content, _sync=True)


def _store() -> WritableFileSystem:
    from prefect.results import get_default_result_storage

    return get_default_result_storage(_sync=True)


def _keys() -> WritableFileSystem:
    """A `songforge-keys` folder in the result store (a local folder, or a remote one such as s3://)."""
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem

    store = _store()
    if isinstance(store, LocalFileSystem):
        return LocalFileSystem(basepath=str(Path(store.basepath or ".").expanduser() / "songforge-keys"))
    if isinstance(store, RemoteFileSystem):
        return RemoteFileSystem(basepath=f"{store.basepath.rstrip('/')}/songforge-keys", settings=store.settings)
    raise TypeError(f"songforge's stage cache needs a local folder or a remote file system as Prefect's result "
                    f"store, not a {type(store).__name__}. Fix: songforge setup --store PATH or s3://...")


def read_result(storage_key: str) -> Any:
    """A song flow run's result at `storage_key`, or RefusedRecord.

    Prefect stores a flow's result alone (its metadata lives in the API's state); whatever the
    bytes claim to be, they are parsed only as our JSON schema, and the files they name checked.
    """
    try:
        content = _store().read_path(storage_key, _sync=True)
    except (OSError, ValueError) as error:
        raise RefusedRecord(f"no record at {storage_key}: {error}") from None
    return _value(lambda: content)


STAGE_KEYS = StageKeys()
RESULT_OPTIONS = {"persist_result": True, "result_serializer": ResultJSON()}
