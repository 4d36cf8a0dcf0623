"""The hand-written pictures (cycles, notes) and their DOT text, without a pytest run."""

from __future__ import annotations

import gc
import re
from pathlib import Path

from pytest_refleak import cycles, graphs
from pytest_refleak.cycles import CycleGroup
from pytest_refleak.origins import Origins


class Node:
    pass


def _edges(text: str) -> list[tuple[str, str, str]]:
    return re.findall(r'^\s*(\w+) -> (\w+) \[label="(.*)"\];$', text, re.MULTILINE)


def _labels(text: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*(\w+) \[label="(.*)"\];$', text, re.MULTILINE))


def test_quoted_escapes_and_cuts() -> None:
    """Quotes and backslashes are escaped, line breaks become DOT's, lone surrogates
    are written as escapes, and long lines and labels are cut."""
    assert graphs.quoted('say "hi"\\now') == '"say \\"hi\\"\\\\now"'
    assert graphs.quoted("one\r\ntwo") == '"one\\ntwo"'
    assert graphs.quoted("bad \udcff") == '"bad \\\\udcff"'
    long = graphs.quoted("x" * 500)
    assert len(long) == graphs.LABEL_LIMIT + 2 and long.endswith('…"')
    many = graphs.quoted("\n".join(map(str, range(100))))
    assert many.count("\\n") == graphs.LABEL_LINES - 1 and "more lines" in many


def test_cycle_drawn_from_a_real_loop_with_labelled_edges() -> None:
    """A two-node cycle a.b → b, b.a → a is drawn as two Node boxes joined both ways,
    each edge named by the attribute that holds the next member."""
    gc.collect()
    a, b = Node(), Node()
    a.b, b.a = b, a  # type: ignore[attr-defined]
    found = cycles.parts(
        [a, b, vars(a), vars(b)], Origins([str(Path(__file__).parent)], ["test_*.py"])
    )
    del a, b
    ((_, group),) = found
    text = graphs.cycles_dot("test_x.py::test_it: reference cycles", [group])
    labels = _labels(text)
    assert sorted(labels[n] for n in labels) == ["Node", "Node"]
    edges = _edges(text)
    assert sorted(label for _, _, label in edges) == [".a", ".b"]
    # Each edge goes from one member to the other: round the loop and back.
    assert {(s, t) for s, t, _ in edges} == {("c0_0", "c0_1"), ("c0_1", "c0_0")}
    assert 'label="cycle of ' in text
    assert text.startswith("digraph refleak {") and text.endswith("}\n")


def test_cycle_loop_matches_its_path() -> None:
    """The recorded loop is the one the report's path names, step for step."""
    group = CycleGroup(
        size=3,
        types=(("Node", 2), ("list", 1)),
        origin=None,
        path="",
        sites=(),
        loop=("Node", ((".children", "list"), ("[0]", "Node"), (".parent", "Node"))),
    )
    assert cycles._join_path(group.loop) == "Node.children → list[0] → Node.parent → Node"
    edges = _edges(graphs.cycles_dot("t", [group]))
    assert edges == [
        ("c0_0", "c0_1", ".children"),
        ("c0_1", "c0_2", "[0]"),
        ("c0_2", "c0_0", ".parent"),
    ]


def test_self_loop_and_unlabelled_step() -> None:
    """An object referring to itself is one box with an edge to itself; a step whose
    name was not found is still drawn."""
    group = CycleGroup(1, (("list", 1),), None, "", (), ("list", (("", "list"),)))
    assert _edges(graphs.cycles_dot("t", [group])) == [("c0_0", "c0_0", "(refers to)")]


def test_note_and_save(tmp_path: Path) -> None:
    """A note is one box; saving writes the .dot (encodable whatever the text) and names it."""
    text = graphs.note_dot("test_x.py::test_it", ["1 file descriptor left open", "\udcff"])
    assert _labels(text) == {"note": "1 file descriptor left open\\n\\\\udcff"}
    written = graphs.save(text, tmp_path / "new", "stem.fds")
    assert written[0] == tmp_path / "new" / "stem.fds.dot"
    assert written[0].read_text(encoding="utf-8") == text


def test_functions_that_only_reach_their_globals_are_not_drawn() -> None:
    """A plain function refers only to its module's namespace, which the module shows;
    one with a closure, defaults, attributes or annotations may hold the leak, and is
    drawn.  Looking does not give a function an attribute dict."""

    namespace: dict[str, object] = {}
    exec("def plain():\n    pass\n", namespace)  # no annotations: they are kept too
    plain = namespace["plain"]

    def with_closure() -> object:
        return plain

    def with_defaults(x: object = None) -> None:
        pass

    def with_attributes() -> None:
        pass

    with_attributes.cache = {}  # type: ignore[attr-defined]
    referents = len(gc.get_referents(plain))
    assert not graphs._worth_drawing(plain)
    assert len(gc.get_referents(plain)) == referents
    assert graphs._worth_drawing(with_closure)
    assert graphs._worth_drawing(with_defaults)
    assert graphs._worth_drawing(with_attributes)
    assert graphs._worth_drawing([])
