"""A workspace template: a nested document (five levels of dicts and lists) holding a
Workspace whose ``home`` is itself, made once at import.

``fork`` deep-copies it on every call: the copy of the workspace points to itself, so
each fork the caller drops is cyclic garbage, made by the project's own call to
``copy.deepcopy`` (idaholab/MontePy#514, "Memory leaks with copy.deepcopy").
"""

from __future__ import annotations

import copy
from typing import Any


class Workspace:
    def __init__(self, name: str) -> None:
        self.name = name
        # A user's default workspace is its own home: the object refers to itself.
        self.home = self
        self.settings = {"theme": "light", "panes": [{"kind": "editor"}, {"kind": "log"}]}


TEMPLATE: dict[str, Any] = {
    "org": {
        "teams": [
            {
                "name": "core",
                "projects": [
                    {
                        "name": "api",
                        "workspace": Workspace("api"),
                        "environments": [{"name": "dev", "vars": {"DEBUG": ["1"]}}],
                    }
                ],
            }
        ]
    }
}


def workspace_of(document: dict[str, Any]) -> Workspace:
    return document["org"]["teams"][0]["projects"][0]["workspace"]


def fork(name: str) -> dict[str, Any]:
    document = copy.deepcopy(TEMPLATE)
    workspace_of(document).name = name
    return document
