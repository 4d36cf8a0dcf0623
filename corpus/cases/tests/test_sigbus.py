"""Signals and callbacks: strong and weak receivers, histories, self-referring closures."""

import itertools

from sigbus import signals

_n = itertools.count(100)


def test_view_receiver_connected_strongly():
    # e-valuation/EvaP#1361 with weak=False: every request's receiver and request stay.
    assert signals.user_edit_view(1, weak=False) == [5]


def test_view_receiver_connected_weakly():
    # e-valuation/EvaP#1361, the default weak=True: the receiver dies with the view.
    assert signals.user_edit_view(1, weak=True) == [5]


def test_dead_weakrefs_pile_up():
    # matplotlib/matplotlib#19474: one dead WeakMethod left per connect.
    model = signals.Model(1)
    signals.units.connect("units", model.handle_saved)
    signals.units.process("units")


def test_dead_weakrefs_pruned():
    # Clean twin of test_dead_weakrefs_pile_up.
    model = signals.Model(1)
    signals.units_pruned.connect("units", model.handle_saved)
    signals.units_pruned.process("units")


def test_sender_index_grows():
    # pallets-eco/blinker#12: receiver sets keyed by dead senders stay.
    sender = signals.Model(next(_n))
    signals.senders.connect(sender, "audit")
    assert {"audit"} in signals.senders.by_sender.values()


def test_shutdown_handlers_strong():
    # zauberzeug/rosys#443: each page's module is pinned by its shutdown handler.
    model = signals.Model(3)
    signals.on_shutdown(model.close)


def test_shutdown_handlers_weak():
    # zauberzeug/rosys#443, the fix: bound methods held weakly and pruned.
    model = signals.Model(3)
    signals.on_shutdown_weak(model.close)


def test_bounded_event_history():
    signals.history.record("saved", pk=1, fields=["name", "price"])


def test_widget_callback_refers_to_widget():
    # commaai/openpilot#36763: a closure on the widget that refers back to it.
    assert signals.Widget("ok").click() == 1


def test_widget_callback_weak():
    # Clean twin of test_widget_callback_refers_to_widget.
    assert signals.WeakWidget("ok").click() == 1


def test_connect_and_disconnect():
    signal = signals.Signal("local")
    model = signals.Model(4)
    signals.post_save.connect(model.handle_saved)
    signals.post_save.disconnect(model.handle_saved)
    signal.connect(model.handle_saved)
    assert signal.send() == ["4 saved"]
