"""The top-level package re-exports the public API and loads each half only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rollout_trace_sdk


@pytest.mark.parametrize("name", rollout_trace_sdk.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(rollout_trace_sdk, name) is not None
    assert name in dir(rollout_trace_sdk)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rollout_trace_sdk.nope


def test_reducer_does_not_import_the_recorder() -> None:
    code = (
        "import sys, rollout_trace_sdk; rollout_trace_sdk.reduce_bundle; "
        "import rollout_trace_sdk.cli; "
        "print(any(m.startswith('rollout_trace_sdk.record') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
