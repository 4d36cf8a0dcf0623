"""Cycles and re-imports (batch 32): module bodies that build trees, re-imported by
the test; the same tree built by a project function; a self-referencing template
deep-copied by the test and by the project."""

import copy
import importlib
import itertools

from importkit import catalog, schema, state

_n = itertools.count(9000)


def test_reload_catalog_built_by_module_body():
    # IronLanguages/main#1051, renpy/renpy#291: reloading a module. The module body
    # builds its tree through three levels of helpers; the old tree dies in its
    # cycles, made while the test re-imported the module: the test's.
    module = importlib.reload(catalog)
    assert catalog.count(module.CATALOG) == 16
    assert module.CATALOG.children[0].children[0].children[0].path() == "catalog/garden/tools/rake"


def test_catalog_tree_built_by_project_function():
    # The same tree, built on every call by the project's function: its cycles are
    # the project's.
    root = catalog.build_catalog(catalog.DEFAULT_SPEC)
    assert catalog.count(root) == 16
    assert root.children[1].children[1].children[0].path() == "catalog/kitchen/pans/wok"


def test_reload_schema_of_dataclasses_enums_namedtuple():
    # IronLanguages/main#1051: a module of classes re-imported; the old dataclasses,
    # enums and namedtuple die in the cycles every class is part of (the test's).
    module = importlib.reload(schema)
    item = module.LineItem("SKU-1", 3, module.Price(250), module.Status.PLACED)
    assert item.total() == 750
    assert module.Priority.HIGH > module.Priority.LOW
    assert module.PARCEL.depth == 10


def test_deepcopy_of_template_by_test():
    # idaholab/MontePy#514 (copy.deepcopy); here the test deep-copies a nested
    # structure (five levels) holding the project's self-referencing workspace: the
    # copies are made by the test's call, their cycle is the test's.
    document = {"tenant": [{"docs": [state.TEMPLATE, {"id": next(_n)}]}]}
    copied = copy.deepcopy(document)
    workspace = state.workspace_of(copied["tenant"][0]["docs"][0])
    assert workspace.home is workspace
    assert workspace is not state.workspace_of(state.TEMPLATE)


def test_template_forked_by_project_deepcopy():
    # idaholab/MontePy#514: the project deep-copies the same template in fork(); the
    # copied workspace points to itself, a cycle made by the project's call.
    document = state.fork(f"ws-{next(_n)}")
    workspace = state.workspace_of(document)
    assert workspace.home is workspace
    assert workspace.name.startswith("ws-")
