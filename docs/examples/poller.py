"""A small service for the resource-leak examples: a poller thread, a log file, a
reload handler."""

import os
import signal
import threading

_stop = threading.Event()


def poll_forever():
    _stop.wait()


def start_poller():
    thread = threading.Thread(target=poll_forever, name="poller", daemon=True)
    thread.start()
    return thread


def open_log(path):
    return os.open(path, os.O_WRONLY | os.O_CREAT)


def on_reload(signum, frame):
    pass


def install_reload_handler():
    signal.signal(signal.SIGHUP, on_reload)
