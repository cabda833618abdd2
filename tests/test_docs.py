"""README.md, CHANGELOG.md and docs/ point at things that exist: links between pages (and their
anchors), files of the repository named in backticks, and the tests docs/guarantees.md and
the other pages cite as ``tests/….py::test_name``. A page that cites a renamed test or a moved
file says something no one can check."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import types
from pathlib import Path

import anyio
import pytest

from .doc_blocks import python_blocks, run_block

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^\s*```.*?^\s*```", re.M | re.S)


def _prose(page: Path) -> str:
    return _FENCE.sub("", page.read_text())


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lowercased, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+\s+(.*)$", _FENCE.sub("", page.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_resolve(page: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(page)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        lost_anchor = bool(anchor) and linked.suffix == ".md" and anchor not in _anchors(linked)
        if not linked.exists() or lost_anchor:
            broken.append(target)
    assert not broken, broken


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_named_files_and_tests_exist(page: Path) -> None:
    text = page.read_text()
    missing = []
    named = (
        r"`((?:tests|benchmarks|scripts|examples|docs|rollout_trace_sdk)/[\w/.\-]+?)(?:::(\w+))?`"
    )
    for path, test in re.findall(named, text):
        if "X" in Path(path).stem:  # a pattern (`tests/reduce/test_X.py`), not a file
            continue
        file = REPO / path.rstrip(".")
        if not file.exists():
            missing.append(path)
        elif test and not re.search(rf"^(?:async )?def {test}\b", file.read_text(), re.M):
            missing.append(f"{path}::{test}")
    assert not missing, missing


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_tests_named_by_continuation_exist(page: Path) -> None:
    """A bare ``::test_name`` names a test of the last test file the page named before it:
    guarantees.md cited ``::test_sigterm_disposition_is_restored`` (renamed
    ``test_stop_signal_disposition_is_restored``) and seven tests of files other than the one
    named last, which test_named_files_and_tests_exist did not see (found by docs33)."""
    named = re.compile(r"`((?:tests|benchmarks)/[\w/.\-]+?\.py)(?:::\w+)?`|`::(\w+)`")
    last: Path | None = None
    wrong = []
    for match in named.finditer(page.read_text()):
        if match.group(1):
            last = REPO / match.group(1)
            continue
        test = match.group(2)
        text = last.read_text() if last and last.exists() else ""
        if not re.search(rf"^(?:async )?def {test}\b", text, re.M):
            wrong.append(f"{last and last.relative_to(REPO)}::{test}")
    assert not wrong, wrong


def _environment_variables() -> set[str]:
    """Every variable the package reads from the environment, and those scripts/test.sh takes."""
    names: set[str] = set()
    for module in (REPO / "rollout_trace_sdk").rglob("*.py"):
        text = module.read_text()
        names.update(re.findall(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", text))
        names.update(re.findall(r"^\w*_ENV: Final = \"([A-Z][A-Z0-9_]+)\"", text, re.M))
        for group in re.findall(r"^\w*_ENV_VARS: Final = \(([^)]*)\)", text, re.M):
            names.update(re.findall(r"\"([A-Z][A-Z0-9_]+)\"", group))
    script = (REPO / "scripts" / "test.sh").read_text()
    names.update(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", script))
    return names - {"TMPDIR"}  # the system's, read by tempfile and pytest alike


def _test_knobs() -> set[str]:
    """The variables the tests and benchmarks read to size a run (``FUZZ_EXAMPLES``), less
    those a test sets itself for a child process (``monkeypatch.setenv``)."""
    read: set[str] = set()
    set_by_tests: set[str] = set()
    for module in [*(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]:
        text = module.read_text()
        read.update(re.findall(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", text))
        set_by_tests.update(re.findall(r"setenv\(\s*\"([A-Z][A-Z0-9_]+)\"", text))
    return read - set_by_tests


def test_test_knobs_are_documented() -> None:
    """A variable that sizes a test run is one a contributor can find: a dozen
    (``FUZZ_EXAMPLES``, ``RECORDER_PROPERTY_EXAMPLES``, ``ROLLOUT_TRACE_CHROMIUM``, ...) were
    named only in the tests that read them (found by docs27)."""
    text = "\n".join(page.read_text() for page in PAGES if page.name != "CHANGELOG.md")
    names = _test_knobs() - _environment_variables()
    assert {"FUZZ_EXAMPLES", "GRAMMAR_EXAMPLES"} <= names
    assert not sorted(n for n in names if not re.search(rf"\b{n}\b", text))


def test_environment_variables_are_documented() -> None:
    """An environment variable the package (or the test command) reads is one a user can find:
    ROLLOUT_TRACE_DEBUG (an internal error's traceback) was read by the CLI and named nowhere
    but in its own error message (found by docs24)."""
    names = _environment_variables()
    assert {"ROLLOUT_TRACE_ROOT", "ROLLOUT_TRACE_SCHEMA", "ROLLOUT_TRACE_DEBUG"} <= names
    text = "\n".join(page.read_text() for page in PAGES if page.name != "CHANGELOG.md")
    assert not sorted(n for n in names if not re.search(rf"\b{n}\b", text))


def _tree_sections() -> dict[str, str]:
    """docs/architecture.md's package tree cut into the text of each top-level entry:
    ``"record/"`` → the lines under it, ``""`` → the package's own modules' lines."""
    text = (REPO / "docs" / "architecture.md").read_text()
    block = re.search(r"^```\nrollout_trace_sdk/\n(.*?)^```", text, re.M | re.S)
    assert block, "architecture.md has no tree of rollout_trace_sdk/"
    sections: dict[str, str] = {"": ""}
    current = ""
    for line in block.group(1).splitlines():
        entry = re.match(r"^  (\S+)", line)
        if entry:
            current = entry.group(1) if entry.group(1).endswith("/") else ""
            sections.setdefault(current, "")
        sections[current] += line + "\n"
    return sections


def test_architecture_tree_names_every_module() -> None:
    """Every module of the package is in architecture.md's tree, under its directory: the tree
    had lost four modules added since (_flock.py, reduce/liveness.py, reduce/shard_frames.py,
    export/otlp_names.py; found by docs27)."""
    sections = _tree_sections()
    package = REPO / "rollout_trace_sdk"
    unnamed = []
    for module in sorted(package.rglob("*.py")):
        relative = module.relative_to(package)
        if module.name == "__init__.py":
            continue
        section = f"{relative.parts[0]}/" if len(relative.parts) > 1 else ""
        if not re.search(rf"(?<![\w/]){re.escape(module.name)}\b", sections.get(section, "")):
            unnamed.append(str(relative))
    assert not unnamed, unnamed


def test_architecture_tree_names_only_what_exists() -> None:
    """Every directory and module architecture.md's tree names exists where it says (a test
    file it names, under tests/)."""
    package = REPO / "rollout_trace_sdk"
    missing = []
    for section, text in _tree_sections().items():
        where = package / section
        if not where.is_dir():
            missing.append(section)
            continue
        for name in set(re.findall(r"(?<![\w/.])(\w+\.py|\w+/)(?![\w.])", text)):
            # a directory may be a sibling the text mentions (``never imports record/``)
            root = REPO / "tests" if name.startswith("test_") else where
            root = package if name.endswith("/") else root
            if not any(root.rglob(name.rstrip("/"))):
                missing.append(f"{section}{name}")
    assert not missing, missing


def _options_by_command() -> dict[str, set[str]]:
    """Each ``rollout-trace`` subcommand's option strings, as its parser declares them."""
    from rollout_trace_sdk.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {option for action in sub._actions for option in action.option_strings}
        for name, sub in commands.choices.items()
    }


_CURRENT = [page for page in PAGES if page.name != "CHANGELOG.md"]  # the changelog is history


@pytest.mark.parametrize("page", _CURRENT, ids=[p.name for p in _CURRENT])
def test_named_commands_and_options_exist(page: Path) -> None:
    """Every ``rollout-trace CMD ... --flag`` a page shows (in a command line, or in backticks as
    ``CMD --flag``) names a subcommand and an option it has: a flag renamed or a command's
    option moved leaves a page telling users to type what the CLI refuses."""
    options = _options_by_command()
    text = page.read_text()
    wrong = []
    shown = re.findall(r"rollout-trace ([a-z]+)((?:[^\n`|;&)]|\\\n)*)", text)
    quoted = re.findall(r"`([a-z]+)( [^`\n]*)`", text)
    for command, rest in [*shown, *((c, r) for c, r in quoted if c in options)]:
        if command not in options:
            if command != "bundle":  # "a rollout-trace bundle": the format, no command
                wrong.append(command)
            continue
        for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", rest):
            if flag not in options[command]:
                wrong.append(f"{command} {flag}")
    assert not wrong, wrong


@pytest.mark.parametrize("page", _CURRENT, ids=[p.name for p in _CURRENT])
def test_tests_named_by_file_name_exist(page: Path) -> None:
    """A test cited by its file's name alone (``test_recorder_soak.py::test_...``, 38 such on
    the pages in docs33's audit) names a file under tests/ that holds it:
    test_named_files_and_tests_exist reads only paths from the repository's root."""
    wrong = []
    for name, test in re.findall(
        r"`(?!tests/|benchmarks/)([\w/]*test_\w+\.py)(?:::(\w+))?`", page.read_text()
    ):
        files = [f for f in (REPO / "tests").rglob(Path(name).name) if f.as_posix().endswith(name)]
        holds = any(re.search(rf"^(?:async )?def {test}\b", f.read_text(), re.M) for f in files)
        if not files or (test and not holds):
            wrong.append(f"{name}::{test}" if test else name)
    assert not wrong, wrong


# --- the pages' Python blocks run -----------------------------------------------------------

_BLOCKS = python_blocks()

#: What a block leaves to the reader, for the blocks that need no model, network or cluster:
#: (where the block runs: "rollout" inside an open rollout, "turn" inside its root's open
#: turn, "" at the top; the names it uses and does not define; what runs after it).
_GIVEN: dict[str, tuple[str, str, str]] = {
    "README.md: import anyio": (
        "",
        "async def my_model(history):\n"
        "    if history[-1]['type'] == 'function_call_output':\n"
        "        return [said('assistant', 'output_text', 'done')]\n"
        "    return [{'type': 'function_call', 'name': 'exec_command', 'call_id': 'c1',\n"
        "             'arguments': '{\"cmd\": \"date\"}'}]\n"
        "async def run_tool(item):\n"
        "    return 'ok'\n",
        "await agent('What time is it?')",
    ),
    "integrations.md: from rollout_trace_sdk.integrations import current_turn, use_turn": (
        "",
        "",
        "",
    ),
    "recording.md: from rollout_trace_sdk.record import open_rollout": ("", "", ""),
    'recording.md: async with open_rollout(metadata={"episode": episode_id, "task": task.name}) as rollout:': (
        "",
        "from rollout_trace_sdk.record import open_rollout\n"
        "import types\n"
        "episode_id, task = 17, types.SimpleNamespace(name='sort')\n"
        "async def run_episode(rollout, task):\n"
        "    async with rollout.root.turn():\n"
        "        return 0.5\n",
        "",
    ),
    "recording.md: async with rollout.root.turn() as turn:": (
        "rollout",
        "user_message = said('user', 'input_text', 'hi')\n"
        "m, tools, client = 'm', [], Client()\n"
        "output = [said('assistant', 'output_text', 'hello')]\n",
        "",
    ),
    'recording.md: async with turn.tool_call(call_id, "exec_command", arguments=args_json) as tool:': (
        "turn",
        "call_id, args_json, text = 'c1', '{\"cmd\": \"date\"}', 'ok'\n",
        "",
    ),
    'recording.md: async with turn.tool_call(call_id, "spawn_agent", namespace="collaboration",': (
        "turn",
        "call_id, task, parent_turn = 'c1', 'Sum it up.', turn\n"
        "output = {'type': 'function_call_output', 'call_id': call_id, 'output': '{}'}\n",
        "",
    ),
    "recording.md: async with child:                                                # the child's whole life": (
        "turn",
        "task, note = 'Sum it up.', 'Shorter, please.'\n"
        "async with turn.tool_call('c1', 'spawn_agent', namespace='collaboration',\n"
        "                          arguments={'task_name': 'worker', 'message': task}) as tool:\n"
        "    child = tool.spawn_agent('worker')\n",
        "",
    ),
    "recording.md: args = json.loads(call.arguments)                     # the model's delegate call": (
        "turn",
        "call = Call('c1', json.dumps({'task': 'Sum it up.'}))\n",
        "",
    ),
    "recording.md: compaction = turn.compaction()": (
        "turn",
        "m = 'm'\n"
        "history = turn.accept(said('user', 'input_text', 'hi'))\n"
        "base = last_user = history[0]\n"
        "output_items = [said('assistant', 'output_text', 'summary')]\n",
        "",
    ),
    "recording.md: open_requests: set[object] = set()": (
        "",
        "MODEL = 'm'\n",
        "await endpoint(None)\nasync with lifespan(None):\n    pass",
    ),
    "redaction.md: async with open_rollout(root) as rollout: ...                  # redacted (the default)": (
        "",
        "root = 'traces'\n",
        "",
    ),
    "redaction.md: from rollout_trace_sdk.record.redact import RedactionConfig, Redactor": (
        "",
        'payload_bytes = b\'{"key": "sk-proj-Q2x9aaaaaaaaaaaaaaaaaaaa1"}\'\n'
        "log_chunk = payload_bytes + b'\\n' + payload_bytes\n",
        "assert redactor.counts['sk_key'] == 3",
    ),
}

#: The blocks that need what a unit test does not have: the test that runs each, or why none.
_ELSEWHERE: dict[str, str] = {
    "README.md: from openai import AsyncOpenAI": (
        "tests/integrations/test_openai_docs.py::test_the_docs_blocks_run"
    ),
    "integrations.md: from openai import AsyncOpenAI": (
        "tests/integrations/test_openai_docs.py::test_the_docs_blocks_run"
    ),
    "README.md: from agents import add_trace_processor": "registers a processor for the process",
    "integrations.md: from agents import add_trace_processor": "as README.md's",
    "viewing.md: from rollout_trace_sdk import diff_rollouts": (
        "tests/view/test_diff_rollouts.py::test_the_docs_block_runs"
    ),
    "exports.md: from rollout_trace_sdk.export.query import connect, run": (
        "tests/export/test_query.py::test_the_python_block_of_the_docs_runs"
    ),
    "exports.md: import ray": "a Ray cluster and an object store",
    "reducing.md: from rollout_trace_sdk.reduce import reduce_bundle, state_bytes, convert_bundle, "
    "ReduceError": "a bundle of the reader's",
    "testing.md: from rollout_trace_sdk.model import events as ev": (
        "tests/testing/test_codex.py::test_the_docs_block_runs"
    ),
}


def test_every_python_block_is_run_somewhere() -> None:
    """A block added to a page is run here, or names the test that runs it, or says why none
    can; a test named must exist."""
    assert set(_BLOCKS) == set(_GIVEN) | set(_ELSEWHERE)
    assert not set(_GIVEN) & set(_ELSEWHERE)
    for where in _ELSEWHERE.values():
        path, _, test = where.partition("::")
        if path.startswith("tests/"):
            assert re.search(rf"^(?:async )?def {test}\b", (REPO / path).read_text(), re.M), where


class _Responses:
    """The provider of recording.md's inference block: a response with an id and usage."""

    async def create(self, *args: object, **kwargs: object) -> object:
        usage = {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}
        return types.SimpleNamespace(id="resp_1", usage=usage)


def _said(role: str, kind: str, text: str) -> dict[str, object]:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


@pytest.mark.parametrize("name", sorted(_GIVEN))
def test_python_block_runs_as_written(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Python block that needs no model runs as the page shows it, given only the names
    it leaves to the reader, without a warning, and every bundle it records validates: a
    renamed method, a changed argument or a block that records what the reducers refuse
    would otherwise reach only the user who copies it (docs38 ran them all by hand)."""
    from rollout_trace_sdk.record import RedactionConfig, open_rollout, task_message
    from rollout_trace_sdk.reduce.validate import validate_bundle

    inside, given, after = _GIVEN[name]
    namespace: dict[str, object] = {
        "open_rollout": open_rollout,
        "task_message": task_message,
        "RedactionConfig": RedactionConfig,
        "said": _said,
        "Client": lambda: types.SimpleNamespace(responses=_Responses()),
        "Call": lambda call_id, arguments: types.SimpleNamespace(
            call_id=call_id, arguments=arguments
        ),
        "my_detector": lambda data: [
            (m.start(), m.end(), "ticket") for m in re.finditer(b"T-1", data)
        ],
        "anyio": anyio,
        "contextlib": contextlib,
        "json": json,
    }
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_TRACE_ROOT", "traces")
    said = run_block(_BLOCKS[name], namespace, given=given, after=after, inside=inside)
    assert not said
    bundles = sorted((tmp_path / "traces").glob("trace-*"))
    assert bundles or "open_rollout" not in _BLOCKS[name]
    for bundle in bundles:
        report = validate_bundle(bundle)
        assert report.ok and not report.unclosed, report.problems
