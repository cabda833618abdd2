"""A container the agent holds in a type of its own read with everything inside it, with
bounded work in all (``record._held_tree``): a lazy tree whose nodes make their children anew
at each reading was read node by node, 2**100 nodes for two children a node, and the
recording call never returned."""

from __future__ import annotations

from collections import OrderedDict, UserDict, UserList
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.record._held import MAX_HELD_ITEMS
from rollout_trace_sdk.record._held_tree import TREE_ITEMS, Marked, held_tree

from .held_forms import LazyTree


def _marks(value: Any) -> list[str]:
    """The kinds of the marks in ``value``, depth first."""
    if isinstance(value, Marked):
        return [value.kind]
    if isinstance(value, dict):
        return [k for v in value.values() for k in _marks(v)]
    if isinstance(value, list):
        return [k for v in value for k in _marks(v)]
    return []


def test_a_lazy_tree_is_read_with_bounded_work() -> None:
    """Its first levels as lists, the rest marked: cut as too deep where the levels end, as
    unreadable where the items do; at most TREE_ITEMS nodes made (plus the first's), the
    node read again to tell one made as it is read counted among them."""
    made = [0]
    tree = held_tree(LazyTree(made), 100)
    assert made[0] <= TREE_ITEMS + 2
    # depth first: the first path reaches the levels' end, the nodes after the budget's
    assert set(_marks(tree)) == {"depth", "object"}
    assert isinstance(tree, list) and len(tree) == 2


def test_a_narrow_lazy_tree_is_cut_at_the_levels() -> None:
    """One child a node: read to ``levels``, then marked as cut (``depth``). Each node below
    the first is read once more, to tell a node made as it is read (9 made: 5 and 4)."""
    made = [0]
    tree = held_tree(LazyTree(made, width=1), 5)
    assert made[0] == 9
    assert _marks(tree) == ["depth"]
    assert tree[0][0][0][0][0].text == "<truncated: nested deeper than 5 levels>"


def test_what_it_holds_is_read_as_plain_json() -> None:
    """Mappings and sequences of the agent's own types at any depth: the JSON they hold; a
    plain dict or list inside is kept as the same object (checked in C, not walked); a dict
    subclass is read as orjson reads it (its storage)."""

    class Lying(dict[str, Any]):
        def items(self) -> Any:
            return [("lie", 1)]

    plain = {"a": [1, {"b": None}]}
    held = UserList([UserDict({"x": UserList([1, 2])}), plain, (3, OrderedDict(y=4))])
    held.append(Lying(z=5))
    tree = held_tree(held, 100)
    assert tree == [{"x": [1, 2]}, plain, [3, {"y": 4}], {"z": 5}]
    assert tree[1] is plain


def test_a_container_met_again_on_its_path_is_marked_a_cycle() -> None:
    inner: UserList[Any] = UserList([1])
    inner.append(inner)
    assert _marks(held_tree(UserList([inner]), 100)) == ["cycle"]


@pytest.mark.parametrize("size", [MAX_HELD_ITEMS, MAX_HELD_ITEMS + 1])
def test_the_first_container_may_hold_up_to_the_held_bound(size: int) -> None:
    """Its own items up to ``MAX_HELD_ITEMS`` (read in C, as before); one more is refused."""
    tree = held_tree(range(size), 100)
    if size <= MAX_HELD_ITEMS:
        assert isinstance(tree, list) and len(tree) == size
    else:
        assert isinstance(tree, Marked) and tree.kind == "object"


@pytest.mark.parametrize(
    "make",
    [
        lambda n: UserList([UserDict({"i": i, "t": "x"}) for i in range(n)]),
        lambda n: UserDict({f"k{i}": UserList([i]) for i in range(n)}),
        lambda n: UserList([(i, OrderedDict(i=i)) for i in range(n)]),
    ],
    ids=["userlist of userdicts", "userdict of userlists", "userlist of tuples"],
)
def test_data_held_in_memory_is_read_whole_past_the_tree_budget(make: Any) -> None:
    """Containers the agent holds (not made as they are read), twice TREE_ITEMS items below
    the first: all read, nothing marked. The budget is for items made as they are read (a
    lazy tree's); before, the items past it were recorded as unserialisable objects (real
    data lost, counted as 'object': 100,000 of a UserList of 200,000 UserDicts), where
    1f3f7c1 recorded them whole."""
    n = TREE_ITEMS
    tree = held_tree(make(n), 100)
    marked = len(_marks(tree))  # (a count: a list of 100,000 marks is slow to show)
    assert marked == 0
    assert orjson.dumps(tree) == orjson.dumps(orjson.loads(orjson.dumps(tree)))  # plain JSON
    assert len(tree) == n


def test_a_dag_of_held_containers_is_read_with_bounded_work() -> None:
    """A container the agent holds twice at every level, 60 levels (2**60 paths to its
    leaves): read up to the bound of items in memory, the rest marked (by type: the repr of
    such a container is 2**60 parts, and it hung main); bounded work."""
    node: Any = UserList([1])
    for _ in range(60):
        node = UserList([node, node])
    tree = held_tree(node, 100)
    kinds = set(_marks(tree))
    assert kinds == {"object"}
    assert b"<unserialisable UserList: not read>" in orjson.dumps(tree, lambda m: m.text)
