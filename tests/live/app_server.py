"""Driving ``codex app-server`` (JSON-RPC over stdio, a message a line) for the live scenarios
that ``codex exec`` cannot express: turns interrupted or steered, manual compaction, forks,
injected items, shell commands, resumed and reverted threads."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from typing import Any

#: An app-server action: ``{"op": "turn", "text": ..., "interrupt_after": s, "steer": text}``
#: (its ``images`` are input items after the text, its ``params`` are added to its
#: ``turn/start``; ``$WORKSPACE`` in either is the workspace),
#: ``{"op": "compact"}``, ``{"op": "fork"}`` (later actions run on the fork),
#: ``{"op": "inject", "items": [...]}``, ``{"op": "shell", "command": ...}``,
#: ``{"op": "revert"}`` (before the thread's last turn not yet reverted, if any),
#: ``{"op": "review", "instructions": ...}`` (or its ``target``),
#: ``{"op": "queue", "id": ..., "input": [...]}``
#: (a turn through the thread's queue), ``{"op": "rpc", "method": ..., "params": {...}}``
#: (any other request; ``$THREAD`` / ``$TURN`` in the params are the thread's id and its
#: latest finished turn's, a shell command's or compaction's included, a reverted one's not;
#: ``$WORKSPACE`` the workspace;
#: ``"switch": true``: later actions run on the thread it returned; ``"wait_turn": true``:
#: wait for a turn it started; ``"may_fail": true``: an error answer is expected),
#: ``{"op": "idle", "seconds": s}`` (the turns the thread starts by itself, an active goal's,
#: until none ended for ``s`` seconds), ``{"op": "restart"}`` (the app-server ended and
#: started anew; the thread resumed there, a bundle of its own), ``{"op": "answer", "method":
#: ..., "results": [...]}`` (how the server's next requests of that method are answered, in
#: turn; the last one repeats). A first action ``{"op": "start", "params": {...}, "experimental": true}`` changes
#: the ``thread/start`` parameters (and opts into the experimental API: dynamic tools, plan
#: mode, thread/sample, the queue).
Action = dict[str, Any]


class AppServer:
    """One ``codex app-server`` process and its JSON-RPC stream."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self._argv, self._env = argv, env
        #: server request method -> the results to answer it with, in turn (see ``answer``)
        self.answers: dict[str, list[Any]] = {}
        self._start()

    def _start(self) -> None:
        argv, env = self._argv, self._env
        self._process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._ids = 0
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        threading.Thread(
            target=self._read, args=(self._process, self._messages), daemon=True
        ).start()

    @staticmethod
    def _read(process: subprocess.Popen[str], messages: queue.Queue[dict[str, Any]]) -> None:
        assert process.stdout is not None
        for line in process.stdout:  # this process's own (a restart's reader has its own)
            try:
                messages.put(json.loads(line))
            except ValueError:
                continue

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = 30) -> Any:
        """Send a request and wait for its response (notifications meanwhile are kept)."""
        self._ids += 1
        ident = self._ids
        self._send({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline)
            if message.get("id") == ident and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")
            self._keep(message)

    def wait_for(self, method: str, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        """The first notification ``method`` whose params hold ``fields`` (kept or new)."""
        deadline = time.monotonic() + timeout
        for seen in self.notifications:
            if _matches(seen, method, fields):
                self.notifications.remove(seen)
                return seen
        while True:
            message = self._next(deadline)
            if _matches(message, method, fields):
                return message
            self._keep(message)

    def wait_for_turn_end(self, thread: str, timeout: float = 30) -> str | None:
        """The id of the thread's next turn to end (its ``turn/completed``, kept or new), or
        ``None`` when Codex gives up with an ``error`` it does not retry and no
        ``turn/completed``: a review of a base branch or a commit once a turn has moved the
        thread's working directory out of its git repository ("... is not a git repository").
        The caller drops the errors kept from before (:meth:`forget_errors`)."""
        deadline = time.monotonic() + timeout
        ended = {"threadId": thread}
        given_up = {**ended, "willRetry": False}
        for seen in self.notifications:
            if _matches(seen, "turn/completed", ended) or _matches(seen, "error", given_up):
                self.notifications.remove(seen)
                return _turn_id(seen) if seen["method"] == "turn/completed" else None
        while True:
            message = self._next(deadline)
            if _matches(message, "turn/completed", ended):
                return _turn_id(message)
            if _matches(message, "error", given_up):
                return None
            self._keep(message)

    def forget_errors(self) -> None:
        """Drop the ``error`` notifications kept so far (a failed turn's, which its
        ``turn/completed`` followed), so that :meth:`wait_for_turn_end` sees new ones only."""
        self.notifications = [n for n in self.notifications if n.get("method") != "error"]

    def _keep(self, message: dict[str, Any]) -> None:
        if "id" in message and "method" in message:  # a request to us
            results = self.answers.get(message["method"])
            if not results:  # nothing scripted: refuse it
                self._send({"id": message["id"], "error": {"code": -32601, "message": "no"}})
                return
            result = results.pop(0) if len(results) > 1 else results[0]
            self._send({"id": message["id"], "result": result})
        else:
            self.notifications.append(message)

    def _next(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("app-server did not answer in time")
        return self._messages.get(timeout=left)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._send({"method": method, **({"params": params} if params is not None else {})})

    def restart(self) -> None:
        """End this process (as ``close``) and start another, as a user runs the app-server
        anew: the same options and home, nothing of the old one's state but its files."""
        self.close()
        self._start()

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _matches(message: dict[str, Any], method: str, fields: dict[str, Any]) -> bool:
    if message.get("method") != method:
        return False
    params = message.get("params") or {}
    return all(_dig(params, key) == value for key, value in fields.items())


def _dig(params: dict[str, Any], key: str) -> Any:
    value: Any = params
    for part in key.split("__"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def run_actions(server: AppServer, workspace: str, actions: list[Action]) -> None:
    """Start a thread and carry out ``actions`` on it, each to its end."""
    start: Action = {}
    if actions and actions[0]["op"] == "start":
        start, actions = actions[0], actions[1:]
    client: dict[str, Any] = {"clientInfo": {"name": "rollout-trace-tests", "version": "1"}}
    if start.get("experimental"):
        client["capabilities"] = {"experimentalApi": True}
    server.request("initialize", client)
    server.notify("initialized")
    params = {
        "cwd": workspace,
        "model": "gpt-5.5",
        "sandbox": "danger-full-access",
        "approvalPolicy": "never",
        **start.get("params", {}),
    }
    started = server.request("thread/start", params)
    thread = started["thread"]["id"]
    turns: list[str] = []  # the thread's user turns (a revert goes before the last)
    # the thread's finished turns of any kind, in order ("$TURN" is the last); a revert drops
    # the turn it goes before and those after it
    finished: list[str] = []
    for action in actions:
        op = action["op"]
        if op == "turn":
            text = [{"type": "text", "text": action["text"]}, *action.get("images", [])]
            text = json.loads(json.dumps(text).replace("$WORKSPACE", workspace))
            extra = json.loads(
                json.dumps(action.get("params", {})).replace("$WORKSPACE", workspace)
            )
            params = {"threadId": thread, "input": text, **extra}
            turn = server.request("turn/start", params)["turn"]["id"]
            turns.append(turn)
            if "steer_after" in action:
                time.sleep(action["steer_after"])
                steer = [{"type": "text", "text": action["steer"]}]
                try:
                    server.request(
                        "turn/steer", {"threadId": thread, "expectedTurnId": turn, "input": steer}
                    )
                except RuntimeError as error:  # a turn that ended first (its answer failed)
                    if "no active turn" not in str(error):
                        raise
            if "interrupt_after" in action:
                time.sleep(action["interrupt_after"])
                try:
                    server.request("turn/interrupt", {"threadId": thread, "turnId": turn})
                except RuntimeError as error:  # a turn that ended first (by itself or not)
                    if "no active turn" not in str(error):
                        raise
            finished.append(_turn_id(server.wait_for("turn/completed", turn__id=turn)))
        elif op == "compact":
            server.request("thread/compact/start", {"threadId": thread})
            finished.append(_turn_id(server.wait_for("turn/completed", threadId=thread)))
        elif op == "fork":
            thread = server.request("thread/fork", {"threadId": thread})["thread"]["id"]
            turns, finished = [], []  # the fork's own turns (a revert reaches only those)
        elif op == "inject":
            server.request("thread/inject_items", {"threadId": thread, "items": action["items"]})
        elif op == "shell":
            server.request(
                "thread/shellCommand", {"threadId": thread, "command": action["command"]}
            )
            finished.append(_turn_id(server.wait_for("turn/completed", threadId=thread)))
        elif op == "revert":  # the thread's last turn not yet reverted; none: nothing to do
            if turns:
                before = turns.pop()
                server.request("thread/revert", {"threadId": thread, "beforeTurnId": before})
                if before in finished:
                    del finished[finished.index(before) :]
        elif op == "rpc":  # any other request; "$THREAD" in its params is the thread id
            raw = json.dumps(action["params"]).replace("$THREAD", thread)
            raw = raw.replace("$WORKSPACE", workspace)
            params = json.loads(raw.replace("$TURN", finished[-1] if finished else ""))
            try:
                result = server.request(action["method"], params)
            except RuntimeError:  # an error answer a scenario expects ("may_fail")
                if not action.get("may_fail"):
                    raise
                continue
            # "switch": later actions run on the thread this one returned (its own turns)
            if action.get("switch") and result["thread"]["id"] != thread:
                thread = result["thread"]["id"]
                turns, finished = [], []
            if action.get("wait_turn"):
                finished.append(_turn_id(server.wait_for("turn/completed", threadId=thread)))
        elif op == "queue":  # a turn queued; it starts by itself when the thread is idle,
            # except after an interrupted turn: then it is started here
            server.request(
                "thread/queue/add",
                {"threadId": thread, "clientUserMessageId": action["id"], "input": action["input"]},
            )
            with contextlib.suppress(RuntimeError):  # already started: "queue is empty"
                server.request("thread/queue/start", {"threadId": thread})
            finished.append(_turn_id(server.wait_for("turn/completed", threadId=thread)))
            turns.append(finished[-1])  # a turn of the thread like any other
        elif op == "answer":
            server.answers[action["method"]] = list(action["results"])
        elif op == "restart":
            server.restart()
            server.request("initialize", client)
            server.notify("initialized")
            thread = server.request("thread/resume", {"threadId": thread})["thread"]["id"]
        elif op == "review":  # its own ``target`` (uncommitted changes, a commit...) or these
            custom = {"type": "custom", "instructions": action.get("instructions", "")}
            target = action.get("target", custom)
            server.forget_errors()
            server.request("review/start", {"threadId": thread, "target": target})
            ended = server.wait_for_turn_end(thread)
            finished += [ended] if ended is not None else []
        elif op == "idle":  # turns the thread starts by itself (a goal's) until none for a while
            finished += _idle(server, thread, action.get("seconds", 3))
        else:
            raise ValueError(f"unknown app-server action {op}")


def _idle(server: AppServer, thread: str, quiet: float, most: float = 60) -> list[str]:
    """The turns ``thread`` finished until none finished for ``quiet`` seconds (at most
    ``most`` seconds in all): an active goal's continuations, started by Codex."""
    ended: list[str] = []
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        try:
            ended.append(_turn_id(server.wait_for("turn/completed", quiet, threadId=thread)))
        except (queue.Empty, TimeoutError):
            break
    return ended


def _turn_id(completed: dict[str, Any]) -> str:
    """The id of the turn a ``turn/completed`` notification reports."""
    return str(completed["params"]["turn"]["id"])
