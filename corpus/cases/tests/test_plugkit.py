"""Plugin registries, hooks, per-connection loggers, re-imported modules."""

import importlib
import sys

import plugkit.builtin  # noqa: F401  (registers the built-in plugins)
from plugkit import registry


def test_register_replaces_by_name():
    class LocalPlugin:
        suffix = ".txt"

    registry.register(LocalPlugin)
    assert registry.PLUGINS["LocalPlugin"] is LocalPlugin


def test_consumer_hooks_accumulate():
    # prkumar/uplink#130: every consumer adds a hook that is never removed.
    consumer = registry.Consumer("https://api.example.org")
    assert registry.call_hook("request", "/x")[-1] == "https://api.example.org/x"


def test_logger_per_connection():
    # tarasko/picows#72, DIRACGrid/DIRAC#5280: loggers are cached by name for good.
    assert registry.Connection("client").send(b"abc") == 3


def test_logger_per_kind():
    assert registry.QuietConnection("client").send(b"abc") == 3


def test_dispatch_registration_per_call():
    # singledispatch and copyreg registrations of a class made per call.
    cls = registry.make_record_type(("a", "b"))
    assert registry.describe(cls()) == "record"


def test_discover_once():
    assert "plugkit.builtin.csv" in registry.discover()


def test_reimport_plugin_module():
    # Re-executing a module body leaves its old classes to die in cycles: the test's
    # doing, not the project's.
    sys.modules.pop("plugkit.builtin", None)
    module = importlib.import_module("plugkit.builtin")
    assert registry.PLUGINS["CsvPlugin"] is module.CsvPlugin
