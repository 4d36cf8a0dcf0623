"""Tests for the poller example (not named test_*.py: the other pages' runs leave them out)."""

import os
import signal

import poller


def test_start_poller():
    poller.start_poller()


def test_open_log(tmp_path):
    poller.open_log(tmp_path / "service.log")


def test_reload_handler():
    poller.install_reload_handler()


def test_reload_handler_restored():
    old = signal.getsignal(signal.SIGHUP)
    poller.install_reload_handler()
    signal.signal(signal.SIGHUP, old)


def test_log_closed(tmp_path):
    os.close(poller.open_log(tmp_path / "service.log"))
