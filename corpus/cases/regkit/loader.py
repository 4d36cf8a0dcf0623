"""Rule files loaded as modules, and a renderer on a reused worker thread."""

from __future__ import annotations

import itertools
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_seq = itertools.count()


def load_rules(source: str, owner: object) -> dict[str, Any]:
    """PolicyEngine/policyengine-core#520, PrefectHQ/prefect#21692: each load registers
    the rules module in ``sys.modules`` under a name unique to the loader instance and
    never evicts it."""
    name = f"regkit_rules_{id(owner):x}_{next(_seq)}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, "<regkit rules>", "exec"), module.__dict__)  # noqa: S102
    return {k: v for k, v in vars(module).items() if k.isupper()}


def load_rules_fixed(source: str, owner: object) -> dict[str, Any]:
    """The fix (prefect's original): the entry is popped once the rules are read."""
    name = f"regkit_rules_{id(owner):x}_{next(_seq)}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(source, "<regkit rules>", "exec"), module.__dict__)  # noqa: S102
        return {k: v for k, v in vars(module).items() if k.isupper()}
    finally:
        sys.modules.pop(name, None)


# One worker thread for the life of the process, reused by every render.
_renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="regkit-render")
_local = threading.local()


def _render_debug(template: str, context: dict[str, Any]) -> str:
    """celery/celery#1976, cherrypy/cherrypy#496: the contexts rendered on this thread
    are kept in thread-local storage "for the debug toolbar"; the pool's thread never
    ends, so neither does the list."""
    rendered = getattr(_local, "rendered", None)
    if rendered is None:
        rendered = _local.rendered = []
    rendered.append(context)
    return template.format(**context)


def _render(template: str, context: dict[str, Any]) -> str:
    """The fix: the thread keeps only the context of the render in progress."""
    _local.current = context
    return template.format(**context)


def render_debug(template: str, **context: Any) -> str:
    return _renderer.submit(_render_debug, template, context).result()


def render(template: str, **context: Any) -> str:
    return _renderer.submit(_render, template, context).result()
