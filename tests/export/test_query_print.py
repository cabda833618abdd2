"""How ``rollout-trace query`` prints a result (``export/query.py``'s printing): agent text
inert on a terminal in every format, as data elsewhere, and a Ctrl-C still a Ctrl-C."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.cli import main


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


_HOSTILE_SQL = (
    "SELECT '[/] [link=https://evil.example]x[/link] ' || chr(27) || ']0;PWNED' || chr(7)"
    ' AS "[b]v[/]"'
)


def test_table_cells_are_literal_text_with_control_characters_spelled_out(
    export_dir: Path,
) -> None:
    """Agent text in a cell is neither rich markup (``[/]`` was a MarkupError, ``[link=]`` a
    hyperlink) nor terminal escapes."""
    code, out, err = _cli("query", str(export_dir), _HOSTILE_SQL, "--format", "table")
    assert (code, err) == (0, "")
    assert "[b]v[/]" in out and "[/] [link=https://evil.example]x[/link]" in out
    assert "\\x1b]0;PWNED\\x07" in out and "\x1b" not in out and "\x07" not in out


def test_a_table_on_a_terminal_with_columns_zero_is_drawn(export_dir: Path) -> None:
    """``COLUMNS=0`` (a terminal whose size is not set yet) reached rich, which took it as 0
    columns: nothing was printed at all (exit 0). It is the terminal's width, as with
    ``COLUMNS`` unset."""
    from tests.view.test_show_terminal import _on_terminal

    query = ["query", str(export_dir), "SELECT count(*) AS rollouts FROM rollouts"]
    assert _on_terminal(query, 60, {"COLUMNS": "0"}) == _on_terminal(query, 60, {})
    assert "rollouts" in _on_terminal(query, 60, {"COLUMNS": "0"})


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_csv_and_json_on_a_terminal_spell_control_characters(export_dir: Path, fmt: str) -> None:
    """``--format csv`` (or json) on a terminal wrote agent text's escapes to it as they were:
    a tool call id holding ``ESC ]0;…BEL`` retitled the terminal, ``ESC [2J`` cleared it, a
    right-to-left override reordered the line (review39), where the table, ``show`` and
    ``summary`` spell them. On a terminal they are spelled as the table spells them; CSV
    written to a pipe or a file keeps the data as they are, and JSON is always the same value
    with every control escaped (as ``summary --json`` writes it)."""
    from tests.view.test_show_terminal import _on_terminal

    sql = "SELECT 'a' || chr(27) || ']0;PWNED' || chr(7) || chr(8238) || 'b' AS v"
    shown = _on_terminal(["query", str(export_dir), sql, "--format", fmt], 120, {})
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "]0;PWNED" in shown and "\\u202e" in shown
    code, piped, err = _cli("query", str(export_dir), sql, "--format", fmt)
    assert code == 0, err
    raw = "\x1b]0;PWNED\x07\u202eb"
    assert (raw if fmt == "csv" else "\\u001b]0;PWNED\\u0007\\u202eb") in piped
    if fmt == "json":
        assert orjson.loads(piped) == [{"v": "a" + raw}]


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1"])
def test_csv_to_a_name_of_a_terminal_standard_output_is_spelled_too(
    export_dir: Path, name: str
) -> None:
    """``-o /dev/stdout`` writes where ``-o -`` does (outputs.write_output), but it counted as
    a named file, so CSV reached the terminal raw there: ``ESC ]0;…`` retitled it (review40)."""
    from tests.view.test_show_terminal import _on_terminal

    sql = "SELECT 'a' || chr(27) || ']0;PWNED' || chr(7) || chr(8238) || 'b' AS v"
    shown = _on_terminal(["query", str(export_dir), sql, "--format", "csv", "-o", name], 120, {})
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "]0;PWNED" in shown and "\\u202e" in shown


class _InterruptedText:
    """A value whose text the user's Ctrl-C interrupts (a slow ``__str__`` of a result's
    value, which ``query`` turns into text for orjson)."""

    def __str__(self) -> str:
        raise KeyboardInterrupt


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_ctrl_c_while_a_value_becomes_text_is_ctrl_c(fmt: str) -> None:
    """orjson hands back what its ``default`` hook raised as a ``TypeError``: a Ctrl-C
    landing while a result's value was turned into text ended ``query --format json`` as an
    internal error (exit 1) instead of as Ctrl-C (exit 130; session 36's note). A value with
    no JSON of orjson's own is still written as its text."""
    from decimal import Decimal

    from rollout_trace_sdk.export.query import _print

    out = io.StringIO()
    _print(fmt, ["v"], [([Decimal("1.5")],)], out)
    assert "1.5" in out.getvalue()
    with pytest.raises(KeyboardInterrupt):
        _print(fmt, ["v"], [([_InterruptedText()],)], io.StringIO())
