"""What a killed recording must hold, whoever recorded it (the real Codex in
``tests/live/test_codex_killed.py``, our recorder in ``tests/record/test_recorder_killed.py``):

* our strict reduction and the matching Codex's agree: the same state bytes, or the same
  refusal (Codex's text inside ours);
* ``reduce --lenient`` succeeds, and says what it skipped when the strict reduction refused;
  ``validate`` then names the same damage; no command tracebacks or hangs;
* ``convert`` to the other schema either refuses with a clear error (and leaves nothing at the
  target) or writes a bundle that the Codex of that schema reduces exactly as we do.

And how a crash tears files further than a kill does (:func:`tear`).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from rollout_trace_sdk.testing import Comparison, reduce_and_compare
from tests.codex_oracle import bundle_schema, codex_bin
from tests.hostile import argv, run_in_process, verdict


def agrees(result: Comparison) -> bool:
    """The same state, or the same refusal: Codex's text (after ``Error: ``) inside ours."""
    refused = result.codex_stderr.strip().removeprefix("Error: ")
    same_refusal = (
        result.error is not None and result.codex is None and refused in result.error.codex_text()
    )
    return result.same_text or same_refusal


def check_killed(bundle: Path, codex: str, described: str) -> Comparison:
    """The strict reductions, lenient reduction, ``validate`` and ``summary`` of a killed
    bundle (see the module's docstring); returns the strict comparison."""
    result = reduce_and_compare(bundle, codex, timeout=60)
    assert agrees(result), f"{result.explain()}\n{described}"
    outputs = {}
    for command in (("reduce", "--lenient"), ("validate",), ("summary",)):
        code, text = run_in_process(argv(command, bundle, bundle.parent / "state.json"), 60)
        broken = verdict(code, text)
        assert broken is None, f"{command}: {broken}\n{text[-2000:]}\n{described}"
        outputs[command] = (code, text)
    code, text = outputs[("reduce", "--lenient")]
    assert code == 0, f"lenient reduction failed: {text[-2000:]}\n{described}"
    if result.error is not None:
        assert "lenient: skipped" in text, f"{text[-2000:]}\n{described}"
        code, text = outputs[("validate",)]
        assert code != 0 and result.error.message in text, f"{text[-2000:]}\n{described}"
    return result


def check_converted(bundle: Path, scratch: Path, described: str) -> dict[int, str]:
    """``convert`` to the other schema, when its Codex is here; returns, by schema, ``"same"``
    or the refusal's first line."""
    outcomes = {}
    for schema in {2, 3} - {bundle_schema(bundle)}:
        codex = codex_bin(schema)
        if codex is None:
            continue
        target = scratch / f"converted-{schema}-{bundle.name}"
        command = ["convert", str(bundle), "--to", str(schema), "-o", str(target)]
        code, text = run_in_process(command, 60)
        broken = verdict(code, text)
        assert broken is None, f"convert --to {schema}: {broken}\n{text[-2000:]}\n{described}"
        if code != 0:
            assert not target.exists(), f"convert --to {schema} left {target}\n{described}"
            assert text.startswith("Error: ") and "\n  at " in text, f"{text[-2000:]}\n{described}"
            outcomes[schema] = text.split("\n", 1)[0]
            continue
        result = reduce_and_compare(target, codex, timeout=60)
        assert agrees(result), f"converted to {schema}: {result.explain()}\n{described}"
        outcomes[schema] = "same"
        shutil.rmtree(target)
    return outcomes


def tear(bundle: Path, target: Path, rng: random.Random) -> tuple[Path, str]:
    """A copy of ``bundle`` as a crash mid-write leaves it: a kill in the middle of a write
    (the log cut inside its last line), or a power cut losing what was not flushed (the log cut
    at a line end up to 20 lines back, then, or alone, the last shard or one of the last five
    payload files cut short)."""
    shutil.copytree(bundle, target)
    log = target / "trace.jsonl"
    data = log.read_bytes()
    mode = rng.choice(["torn line", "lines and payload", "payload"])
    if mode == "torn line":
        start = data.rstrip(b"\n").rfind(b"\n") + 1
        cut = rng.randrange(start, len(data) + 1)
        log.write_bytes(data[:cut])
        return target, f"log cut at {cut} of {len(data)}"
    how = mode
    if mode == "lines and payload":
        keep = len(data)  # a line end (or the start) up to 20 lines back
        for _ in range(rng.randrange(20)):
            keep = data.rfind(b"\n", 0, keep - 1) + 1 if keep else 0
        log.write_bytes(data[:keep])
        how += f": log cut at line end {keep} of {len(data)}"
    files = sorted((target / "payloads").glob("*.zst"))[-1:]
    if not files:
        numbered = [p for p in (target / "payloads").glob("*.json") if p.stem.isdigit()]
        files = sorted(numbered, key=lambda p: int(p.stem))[-5:]
    if files:
        victim = rng.choice(files)
        raw = victim.read_bytes()
        at = rng.randrange(len(raw) + 1)
        victim.write_bytes(raw[:at])
        how += f", {victim.name} cut at {at} of {len(raw)}"
    return target, how
