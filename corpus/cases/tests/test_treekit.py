"""Cycles made deep inside library calls (batch 32): parent pointers set in
functools.reduce and map callbacks, and seven frames below a visitor's visit(); the
twins keep weak parents or a parent table; a tree the test links by hand."""

from treekit import nodes, visit

SOURCE = "define (square x) (multiply (x x)) end"


def test_parser_links_parents_inside_reduce_and_map():
    # lark-parser/lark#1217: parent pointers on parsed tree nodes make cycles.
    tree = nodes.parse(SOURCE)
    assert nodes.count(tree) == 11
    assert tree.children[1].children[0].depth() == 2


def test_parser_keeps_weak_parents():
    tree = nodes.parse(SOURCE, weak_parents=True)
    assert nodes.count(tree) == 11
    assert tree.children[1].children[0].depth() == 2


def test_visitor_links_parents_seven_frames_deep():
    # nikic/PHP-Parser#1055 (NodeConnectingVisitor), lark-parser/lark#1217 (the
    # "keeping track of parents when visiting" recipe).
    tree = nodes.parse(SOURCE, link=False)
    visit.ParentLinker().visit(tree)
    assert tree.children[2].children[1].children[0].depth() == 3


def test_visitor_records_parents_in_a_table():
    tree = nodes.parse(SOURCE, link=False)
    table = visit.ParentTable()
    table.visit(tree)
    leaf = tree.children[2].children[1].children[0]
    assert table.parents[id(leaf)] is tree.children[2].children[1]
    assert leaf.depth() == 0


def test_tree_linked_by_hand_with_project_nodes():
    # The test makes the project's nodes and links them itself, a root that is its
    # own parent included (node.parent = node): the cycles are the test's.
    root = nodes.Node("block")
    root.parent = root
    for word in ("alpha", "beta", "gamma"):
        child = nodes.Node("word", word)
        child.parent = root
        root.children.append(child)
    inner = nodes.Node("block")
    inner.parent = root
    root.children.append(inner)
    inner.children.append(nodes.Node("word", "delta"))
    inner.children[0].parent = inner
    assert nodes.count(root) == 6
    assert inner.children[0].parent_node() is inner
