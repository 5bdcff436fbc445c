"""FileRef: when a stage's file still counts as the one it wrote."""

import os

from songforge import artifacts
from songforge.artifacts import FileRef


def test_an_untouched_file_is_trusted_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "take.wav"
    path.write_bytes(b"\x01" * 4096)
    ref = FileRef.of(path)
    monkeypatch.setattr(artifacts, "file_sha256", lambda p: (_ for _ in ()).throw(AssertionError("hashed")))
    assert ref.is_intact()


def test_same_size_new_content_is_caught_and_a_touched_file_is_rehashed(tmp_path):
    path = tmp_path / "take.wav"
    path.write_bytes(b"\x01" * 4096)
    ref = FileRef.of(path)
    os.utime(path, ns=(ref.mtime_ns + 10**9, ref.mtime_ns + 10**9))
    assert ref.is_intact()  # only touched: the hash still matches
    path.write_bytes(b"\x02" * 4096)
    assert not ref.is_intact()
    path.unlink()
    assert not ref.is_intact()
