"""Parsers: generators kept on their object, parent pointers, closures, interning."""

import itertools

from textparse import files, lexer

_n = itertools.count()


def test_tokenizer_keeps_generator_on_itself():
    # A generator stored on its own object: the collector's finalizer (close()) breaks
    # the cycle, so nothing reaches gc.garbage, but it is cyclic garbage every call.
    tok = lexer.Tokenizer("price * 1.08 + tax")
    assert tok.lookahead == ("name", "price")


def test_list_tokenizer():
    # Clean twin of test_tokenizer_keeps_generator_on_itself.
    tok = lexer.ListTokenizer("price * 1.08 + tax")
    assert tok.lookahead == ("name", "price")


def test_tree_with_parent_pointers():
    # mewwts/addict#86, numpy/numpy#1601: children point back to their parent.
    root = lexer.parse("a + b * 3")
    assert [c.value for c in root.children] == ["a", "+", "b", "*", "3"]


def test_tree_with_weak_parents():
    root = lexer.parse("a + b * 3", lexer.WeakNode)
    assert root.children[0].parent is root


def test_recursive_inner_function():
    # radiocosmology/caput#134: the recursive closure is a cycle through its cell.
    root = lexer.parse("x + y", lexer.WeakNode)
    assert lexer.depth_first(root)[:2] == ["expr", "name"]


def test_iterative_walk():
    root = lexer.parse("x + y", lexer.WeakNode)
    assert lexer.depth_first_iterative(root)[:2] == ["expr", "name"]


def test_nested_closure_encoder():
    # Nested closures that refer to each other (a JSON encoder's iterencode shape).
    assert lexer.encode({"a": [1, 2, {"b": None}]}) == "{a: [1, 2, {b: None}]}"


def test_tiny_key_leak():
    # A 60-odd-byte key string per call, kept in a module-level set.
    assert lexer.intern_key("sess").startswith("sess:")


def test_interned_symbols_stable():
    assert lexer.intern_symbol("price") == "price"


def test_tmp_file_roundtrip():
    # A per-test temporary file, created and removed.
    assert files.roundtrip([["a", "1"], ["b", "2"]]) == [["a", "1"], ["b", "2"]]
