"""``--latest`` for ``redact`` (``rollout_trace_sdk/sources.py``): the newest bundle under a
traces root that is not itself a redacted copy. Run twice, ``redact ROOT --latest`` took the
copy the first run wrote beside the recording (the same start time, a later name) and wrote
``...-redacted-redacted`` (polish35)."""

from __future__ import annotations

from pathlib import Path

from rollout_trace_sdk.sources import resolve
from tests.test_cli_sources import _bundle, run


def test_redact_latest_twice_redacts_the_recording_not_its_copy(tmp_path: Path) -> None:
    root = tmp_path / "traces"
    bundle = _bundle(root)
    code, out, err = run("redact", root, "--latest")
    assert code == 0, err
    copy = Path(f"{bundle}-redacted")
    assert out.splitlines()[0] == str(copy)
    # the copy is what the other commands' --latest reads (the same rollout, a later name) ...
    assert resolve(str(root), "show", latest=True, needs_bundle=False) == str(copy)
    # ... redact's is the recording, whose copy is there already: said so, nothing written
    assert resolve(str(root), "redact", latest=True, needs_bundle=True) == str(bundle)
    code, out, err = run("redact", root, "--latest")
    assert (code, out) == (2, "")
    assert err == (
        f"rollout-trace redact: {bundle} has a redacted copy already: {copy}; give another "
        "directory with -o, or redact it with --in-place\n"
    )
    assert sorted(path.name for path in root.iterdir()) == [bundle.name, copy.name]
    code, out, err = run("redact", root, "--latest", "-o", tmp_path / "again")
    assert code == 0, err
    assert out.splitlines()[0] == str(tmp_path / "again")


def test_redact_latest_under_a_root_of_copies_only_says_so(tmp_path: Path) -> None:
    """A root holding redacted copies alone has nothing left to redact (redacting a redacted
    bundle changes nothing): said, with the copies named, rather than a copy of a copy."""
    root = tmp_path / "traces"
    bundle = _bundle(root)
    assert run("redact", bundle)[0] == 0
    recording = bundle.rename(tmp_path / bundle.name)
    code, out, err = run("redact", root, "--latest")
    assert (code, out) == (1, "")
    assert err == (
        f"rollout-trace redact: --latest: no bundle to redact under {root}: its one bundle "
        f"is a redacted copy ({root / bundle.name}-redacted)\n"
    )
    assert [path.name for path in root.iterdir()] == [f"{bundle.name}-redacted"]
    assert recording.is_dir()
