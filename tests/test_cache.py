"""The stage cache on a real Prefect API: hits across runs, keyed on content, never trusting vanished files."""

from pathlib import Path

from prefect import flow

from songforge.artifacts import StageOutput, output
from songforge.paths import write_text
from tasks.cache import stage_task

CALLS: list[str] = []


@stage_task("test-echo")
def echo(text: str, song_dir: Path) -> StageOutput:
    CALLS.append(text)
    return output("test-echo", {"text": text}, echo=write_text(song_dir / "echo.txt", text))


@stage_task("test-shout")
def shout(upstream: StageOutput, song_dir: Path) -> StageOutput:
    CALLS.append("shout")
    text = upstream.path("echo").read_text().upper()
    return output("test-shout", shout=write_text(song_dir / "shout.txt", text))


@flow
def pipeline(text: str, folder: str) -> list[str]:
    first = echo(text, Path(folder), return_state=True)
    second = shout(first.result(), Path(folder), return_state=True)
    return [first.name, second.name]


def test_rerun_hits_cache_and_vanished_output_is_recomputed(prefect_api, tmp_path):
    CALLS.clear()
    assert pipeline("hello", str(tmp_path)) == ["Completed", "Completed"]
    assert pipeline("hello", str(tmp_path)) == ["Cached", "Cached"]
    assert CALLS == ["hello", "shout"]

    (tmp_path / "echo.txt").unlink()  # a cached output vanished: recompute it, not trust the record
    states = pipeline("hello", str(tmp_path))
    assert states[0] == "Completed" and (tmp_path / "echo.txt").read_text() == "hello"
    assert states[1] == "Cached"  # same content upstream: downstream key unchanged
    assert pipeline("hello", str(tmp_path)) == ["Cached", "Cached"]

    (tmp_path / "shout.txt").write_text("tampered")  # changed content is not trusted either
    assert pipeline("hello", str(tmp_path)) == ["Cached", "Completed"]
    assert (tmp_path / "shout.txt").read_text() == "HELLO"

    assert pipeline("other", str(tmp_path)) == ["Completed", "Completed"]  # new input, new key


def test_a_run_killed_after_completed_but_before_prefects_commit_is_not_made_again(prefect_api, tmp_path,
                                                                                    monkeypatch):
    """Prefect marks a task Completed, then writes its cache record when the transaction commits. Mocked here:
    the kill in between (a few milliseconds no test can hit on purpose); a commit that writes nothing leaves
    the store as that kill does. The record stage tasks write on return must be enough to resume from."""
    from prefect.transactions import Transaction

    commit = Transaction.commit

    def commit_that_writes_nothing(self):
        self.write_on_commit = False
        return commit(self)

    CALLS.clear()
    monkeypatch.setattr(Transaction, "commit", commit_that_writes_nothing)
    assert pipeline("killed", str(tmp_path)) == ["Completed", "Completed"]
    monkeypatch.setattr(Transaction, "commit", commit)
    assert pipeline("killed", str(tmp_path)) == ["Cached", "Cached"]
    assert CALLS == ["killed", "shout"]
