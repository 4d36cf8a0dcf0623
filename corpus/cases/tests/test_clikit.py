"""clikit: a command-line framework (batch 33). A context left on the stack when a
command fails, per-run loggers, deprecation warnings that quote the value, a SIGHUP
handler chained per application; each beside its fix, and a runner that swaps
sys.stdout for a fresh TextIOWrapper on every call (clean)."""

import itertools
import signal

from clikit import app, core
from clikit.testing import Runner

_n = itertools.count(33000)


# --- the context stack ----------------------------------------------------------------


def test_context_left_on_stack_when_command_fails():
    # Hand-made (the generator context manager without try/finally around its yield).
    try:
        core.cli.main(f"sync --batch -{next(_n)}")
    except core.UsageError as exc:
        assert "must be positive" in str(exc)
    else:
        raise AssertionError("sync accepted a negative batch")


def test_context_popped_when_command_fails():
    depth = len(core._stack)
    try:
        core.cli.main(f"sync --batch -{next(_n)}", scoped=True)
    except core.UsageError as exc:
        assert exc.command_name == "sync"
    assert len(core._stack) == depth


def test_runner_swaps_stdout_for_a_fresh_wrapper():
    # click's CliRunner style: a new TextIOWrapper over a BytesIO per invocation, kept
    # by the result, sys.stdout put back afterwards.
    result = Runner().invoke(core.cli, f"sync --batch {next(_n) % 90 + 10}")
    assert result.exit_code == 0
    assert result.output.startswith("ok: {'batches'")


# --- loggers per run ------------------------------------------------------------------


def test_logger_made_per_run():
    # tarasko/picows#72, DIRACGrid/DIRAC#5280, github/annotated-logger#83.
    lines = app.run_with_logger_per_run("export", 3)
    assert lines[-1] == "export step 3/3"


def test_logger_adapter_per_run():
    # kestra-io/kestra#8163, wazuh/wazuh#4463: one stable logger, the run id beside it.
    lines = app.run_with_adapter("export", 3)
    assert lines[-1] == "export step 3/3"


def test_record_factory_wrapped_per_app():
    # Hand-made: the logging cookbook's setLogRecordFactory recipe, once per app.
    application = app.App(f"svc-{next(_n)}", {"workers": 2})
    application.tag_log_records()
    app.run_with_adapter("export", 1)
    assert app._recorder.last_app == application.name


def test_record_factory_installed_once():
    application = app.App(f"svc-{next(_n)}", {"workers": 2})
    app.tag_log_records_once(application)
    app.run_with_adapter("export", 1)
    assert app._recorder.last_app == application.name


# --- deprecation warnings -------------------------------------------------------------


def test_deprecated_option_warning_quotes_value():
    # POSYDON-code/POSYDON#364, python/cpython#97557: one registry key per distinct text.
    out = core.cli.main(f"sync --chunk {next(_n)}")
    assert out["batches"] == 1


def test_deprecated_option_warning_fixed_text():
    out = core.cli.main(f"sync --page-size {next(_n)}")
    assert out["batches"] == 1


# --- reload on SIGHUP -----------------------------------------------------------------


def test_reload_handler_chained_per_app():
    # radixark/miles#1472: each app chains a handler onto the previous one, for good.
    application = app.App(f"svc-{next(_n)}", {"workers": 4, "bind": "127.0.0.1:8000"})
    application.install_reload_handler()
    signal.getsignal(signal.SIGHUP)(signal.SIGHUP, None)
    assert application.generation == 1


def test_reload_dispatcher_installed_once():
    application = app.App(f"svc-{next(_n)}", {"workers": 4, "bind": "127.0.0.1:8000"})
    app.register_for_reload(application)
    app._dispatch(signal.SIGHUP, None)
    assert application.generation == 1
