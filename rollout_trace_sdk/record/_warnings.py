"""The recorder's warnings: one of each kind per process unless asked for every one.

A :class:`RecorderWarning` about one call names it (``tool call call_8's arguments hold no
message text; ...``), so no two read alike and Python's default filter, which shows each
text once per line, shows every one: a recording mistake in a service's loop repeated on
stderr for every request that made it (review user37). So each call site names the kind of
its warning (a short stable key, never parsed from the text), and per process the first
warning of each kind is shown with its full detail and a sentence saying that later ones of
its kind are not shown and how to see them; the later ones are not issued.

Whoever asked to see every warning still does: when the filter Python would apply to this
warning (the first in ``warnings.filters`` matching it, as ``warnings.warn`` chooses) has the
action ``"always"`` (``pytest.warns``, pytest's ``recwarn``, ``catch_warnings`` with
``simplefilter("always")``, ``-W always``), every warning is issued, as it was. An
``"ignore"`` filter issues nothing and does not use up the kind's one showing. What an
``"error"`` filter raises is dropped (a recording call must not fail half-way), as before.

The check runs only when a warning is issued (rare: a mistake or a failure), under a lock,
since warnings come from the loop, the writer's worker threads and the Agents SDK
processor's thread. The kinds are a fixed set named in the code (a few are made from a
method's or a part's name); :data:`MAX_KINDS` bounds the memory all the same.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import warnings
from types import FrameType
from typing import Final


class RecorderWarning(RuntimeWarning):
    """Tracing could not do something (or not faithfully); the agent keeps running."""


#: Where the package's code lives, and the names of the code it generates (guards, attrs'
#: methods, event builders): frames a warning is not attributed to.
_PACKAGE_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_GENERATED: Final = ("<guarded ", "<attrs generated ", "<payload dict ")

#: Kinds remembered at most; past it, a warning of a new kind is issued every time (as
#: before), never silenced.
MAX_KINDS: Final = 1024

#: What the first warning of a kind ends with.
LATER_NOT_SHOWN: Final = (
    " [later RecorderWarnings of this kind are not shown; each bundle's loss report counts "
    "what its recorder lost or changed; "
    'warnings.simplefilter("always", RecorderWarning) shows every one]'
)

_shown: set[str] = set()
_lock = threading.Lock()


def recorder_warning(message: str, *, kind: str | tuple[str, ...]) -> None:
    """Issue a :class:`RecorderWarning` of ``kind`` from the agent's line: the first frame up
    the stack that is not this package's code (nor code it generated). A fixed
    ``stacklevel`` named a recorder module or a generated guard whenever the call came
    through one more or one fewer of our frames than its writer had counted.

    Only the first warning of each ``kind`` in the process is issued, unless the filter that
    applies to it says ``"always"`` (see the module's docstring). A warning of several
    kinds (a request with several problems, one sentence each: ``inference.report_dropped``)
    is issued when any of them is new, and uses up all of them: a kind not yet shown is
    advice not yet given, and the one warning gives it with the rest of its request (the
    same problems are what the bundle records together). A filter that makes
    warnings errors (``-W error``, pytest's ``filterwarnings = error``) must not make a
    recording call fail half-way, so the error it raises is dropped."""
    level = 1
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(_PACKAGE_DIR) or name.startswith(_GENERATED)):
            break
        frame = frame.f_back
        level += 1
    action = _action(message, frame)
    if action == "ignore":
        return
    if action not in ("always", "error"):
        kinds = (kind,) if isinstance(kind, str) else kind
        with _lock:
            new = [k for k in kinds if k not in _shown]
            if not new:
                return
            if len(_shown) + len(new) <= MAX_KINDS:
                _shown.update(new)
                message += LATER_NOT_SHOWN
    with contextlib.suppress(Exception):  # the warning became an error: not the agent's
        warnings.warn(message, RecorderWarning, stacklevel=level + 1)


def _action(message: str, frame: FrameType | None) -> str:
    """The action of the filter ``warnings.warn`` will apply to ``message`` issued from
    ``frame`` (the first matching one, as ``warnings.warn_explicit`` looks it up)."""
    if frame is None:
        module, lineno = "sys", 0  # what warnings.warn names when the stack runs out
    else:
        module, lineno = str(frame.f_globals.get("__name__", "<string>")), frame.f_lineno
    for action, text, category, module_re, line in warnings.filters:
        if (
            issubclass(RecorderWarning, category)
            and (text is None or _matches(text, message))
            and (module_re is None or _matches(module_re, module))
            and (line == 0 or line == lineno)
        ):
            return str(action)
    return str(getattr(warnings, "defaultaction", "default"))  # (not in the type stubs)


def _matches(pattern: re.Pattern[str] | str, text: str) -> bool:
    """A filter's pattern (compiled by ``filterwarnings``; ``simplefilter`` sets ``None``)
    matched as ``warnings`` matches it: from the start."""
    if isinstance(pattern, str):
        return re.match(pattern, text) is not None
    return pattern.match(text) is not None


def forget_shown() -> None:
    """Show the next warning of every kind again (a test's fresh start)."""
    with _lock:
        _shown.clear()
