"""Recording a scenario with the real Codex CLI: ``codex exec`` against
:class:`~tests.live.fake_responses.FakeResponses`, with ``CODEX_ROLLOUT_TRACE_ROOT`` set."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

from tests.codex_oracle import codex_bin
from tests.live.app_server import AppServer, run_actions
from tests.live.fake_responses import FakeResponses
from tests.live.scenarios import Scenario

INSTRUCTIONS = "You are a scripted test agent used to record traces.\n"


def record(codex: str, scenario: Scenario, root: Path, *, timeout: float = 90) -> list[Path]:
    """Run ``scenario`` with ``codex`` under ``root``; the bundles it wrote, oldest first."""
    with FakeResponses(scenario.rules) as fake:
        runs, env = exec_runs(codex, scenario, root, fake.base_url)
        if scenario.app_server:
            settings = runs[0][2 : runs[0].index("-s")]  # the -c settings and the extra options
            server = AppServer([codex, "app-server", *settings], env)
            try:
                run_actions(server, str(root / "workspace"), list(scenario.app_server))
            finally:
                server.close()
        else:
            for n, run in enumerate(runs):
                run = [_session(root / "home", part) for part in run]
                piped = scenario.stdin if n == 0 else None
                subprocess.run(
                    run,
                    env=env,
                    input=piped,
                    stdin=subprocess.DEVNULL if piped is None else None,
                    capture_output=True,
                    timeout=timeout,
                )
    return bundles(root)


def record_killed(
    codex: str,
    scenario: Scenario,
    root: Path,
    *,
    after: float,
    signum: int,
    resume: bool = False,
    timeout: float = 90,
) -> list[Path]:
    """Run ``scenario``'s prompt with ``codex exec`` under ``root`` and send Codex ``signum``
    ``after`` seconds in (SIGKILL if it has not ended 10 s later; the commands it started are
    killed with it); with ``resume``, ``scenario.then``'s prompts run after it as
    :func:`record` runs them (the killed session resumed); the bundles left, oldest first. A
    run that ends before is kept whole."""
    with FakeResponses(scenario.rules) as fake:
        runs, env = exec_runs(codex, scenario, root, fake.base_url)
        process = subprocess.Popen(
            runs[0],
            env=env,
            stdin=subprocess.DEVNULL if scenario.stdin is None else subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own group: what it started goes with it
        )
        if process.stdin is not None:  # the piped prompt, as :func:`record` gives it
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(scenario.stdin or b"")
            process.stdin.close()
        try:
            process.wait(after)
        except subprocess.TimeoutExpired:
            process.send_signal(signum)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for run in runs[1:] if resume else []:
            run = [_session(root / "home", part) for part in run]
            subprocess.run(
                run, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout
            )
    return bundles(root)


def _session(home: Path, part: str) -> str:
    """``part``, or for ``$SESSION_first`` / ``$SESSION_last`` the id of the first / the latest
    session ``codex exec`` started under ``home`` (a sub-agent's rollout files are not one)."""
    if part not in ("$SESSION_first", "$SESSION_last"):
        return part
    started = []
    for rollout in (home / "sessions").rglob("rollout-*.jsonl"):
        with rollout.open() as lines:
            meta = json.loads(lines.readline())["payload"]
        if meta.get("source") == "exec":
            started.append((meta["timestamp"], str(meta["id"])))
    started.sort()
    if not started:  # the first run started none (a budget below the manifest's size): Codex
        return part  # is told an id it cannot find, as a user's mistyped one
    return started[0 if part == "$SESSION_first" else -1][1]


def bundles(root: Path) -> list[Path]:
    """The bundles Codex wrote under ``root``, oldest first."""
    return sorted((root / "traces").glob("trace-*"), key=lambda p: p.stat().st_mtime_ns)


def exec_runs(
    codex: str, scenario: Scenario, root: Path, base_url: str
) -> tuple[list[list[str]], dict[str, str]]:
    """Lay ``scenario``'s home and workspace out under ``root``; the ``codex exec`` command
    lines that run it against the fake model at ``base_url`` (the prompt, then each later one
    resumed), and their environment."""
    home, workspace, traces = root / "home", root / "workspace", root / "traces"
    for folder in (home, workspace, traces):
        folder.mkdir(parents=True, exist_ok=True)
    for folder, files in ((workspace, scenario.files), (home, scenario.home_files)):
        for name, data in files.items():  # a name may hold folders (``skills/x/SKILL.md``)
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    if scenario.git:
        _git_repository(workspace)
    instructions = root / "instructions.md"
    instructions.write_text(INSTRUCTIONS)
    provider = (
        f'{{name="fake", base_url="{base_url}", wire_api="responses", '
        'env_key="FAKE_API_KEY", request_max_retries=0, stream_max_retries=0}'
    )
    argv = [codex, "exec"]
    for setting in (
        f'model_instructions_file="{instructions}"',
        "include_permissions_instructions=false",
        "include_environment_context=false",
        "skills.include_instructions=false",
        "skills.bundled.enabled=false",
        "model_provider=fake",
        f"model_providers.fake={provider}",
    ):
        argv += ["-c", setting]
    # ``$WORKSPACE`` in an option is the workspace (``--output-schema $WORKSPACE/schema.json``)
    extra = [part.replace("$WORKSPACE", str(workspace)) for part in scenario.extra]
    argv += [*extra, "-s", scenario.sandbox, "--skip-git-repo-check"]
    argv += ["-C", str(workspace)]
    # the scenario's prompt, then each later one in the same session (resumed: a new
    # process, the same CODEX_HOME), as the corpus ran them
    images = [part for name in scenario.images for part in ("-i", str(workspace / name))]
    model = scenario.model
    runs = [[*argv, *images, "-m", model, "--", scenario.prompt]]
    if scenario.review:  # ``codex exec review``: its options after the subcommand's name
        runs = [[*argv, "review", "-m", model, *scenario.review]]
    for n, then in enumerate(scenario.then):
        fork = scenario.fork_from[n] if n < len(scenario.fork_from) else ""
        if scenario.alternate_codex and n % 2 == 0:  # the other version's turn
            argv = [_other_codex(codex), *argv[1:]]
        elif scenario.alternate_codex:
            argv = [codex, *argv[1:]]
        if fork:  # the session's id is known once the run before has started it
            runs.append([*argv, "fork", f"$SESSION_{fork}", "-m", model, then])
        else:
            again = [
                part for name in scenario.then_images for part in ("-i", str(workspace / name))
            ]
            runs.append([*argv, "resume", "--last", *again, "-m", model, then])
    # HOME too: the commands run in login shells, which must not source this machine's
    # profile (a pyenv rehash there, cut off by an interrupted command, left a lock that
    # made every later shell wait 10 s)
    env = dict(os.environ, HOME=str(home), CODEX_HOME=str(home))
    env["CODEX_ROLLOUT_TRACE_ROOT"] = str(traces)
    env["FAKE_API_KEY"] = "not-a-key"
    env.pop("RUST_BACKTRACE", None)
    return runs, env


def _other_codex(codex: str) -> str:
    """The Codex binary of the schema ``codex`` does not record (``codex`` if there is none)."""
    for schema in (2, 3):
        if codex_bin(schema) == codex:
            return codex_bin({2: 3, 3: 2}[schema]) or codex
    return codex


def _git_repository(workspace: Path) -> None:
    """Make ``workspace`` a git repository: its files committed on ``main``, then a line added
    to the first of them and a file left untracked (changes for a review to find)."""
    git = ["git", "-c", "user.name=Live", "-c", "user.email=live@example.invalid"]
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "--allow-empty", "-m", "base"],
    ):
        subprocess.run([*git, *args], cwd=workspace, check=True, capture_output=True)
    files = sorted(path for path in workspace.iterdir() if path.is_file())
    if files:
        with files[0].open("a") as changed:
            changed.write("a line not committed\n")
    (workspace / "untracked.txt").write_text("new and untracked\n")
