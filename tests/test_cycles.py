"""Uncollected reference cycles: the project's are caught, other people's are left alone."""

from __future__ import annotations

import pytest
from conftest import run


def assert_cycles(result: pytest.RunResult, *lines: str) -> None:
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["CYCLES test_it.py::test_it - *"])
    for line in lines:
        result.stdout.fnmatch_lines([line])


@pytest.mark.parametrize(
    ("call", "path"),
    [
        ("leakylib.make_tree()", "*Node.parent → Node.children → list[[]0[]] → Node*"),
        ("leakylib.make_button()", "*Button.on_click → method.__self__ → Button*"),
        ("leakylib.keep_exception()", "*frame.f_locals[[]'kept'[]]*traceback.tb_frame → frame*"),
        ("leakylib.make_resource()", "*Resource.me → Resource*"),
        ("leakylib.factorial(5)", "*cell.cell_contents → function.__closure__*"),
        ("leakylib.self_list()", "*list[[]0[]] → list*"),
    ],
    ids=["parent-child", "bound-method-on-self", "exception-in-local", "del", "recursive-closure",
         "plain-list"],
)
def test_project_cycles_fail(leaky: pytest.Pytester, call: str, path: str) -> None:
    """Garbage cycles made by the project's code fail the test, with their loop shown."""
    leaky.makepyfile(test_it=f"import leakylib\ndef test_it(): {call}\n")
    result = run(leaky, "--refleak")
    assert_cycles(result, path, "*allocated at leakylib.py:*", "*only the cyclic garbage collector*")


def test_cycles_collected_by_automatic_gc_still_count(leaky: pytest.Pytester) -> None:
    """Cycles the collector frees in the middle of the test are counted too."""
    leaky.makepyfile(test_it="import leakylib\ndef test_it(): leakylib.make_many_trees(5000)\n")
    result = run(leaky, "--refleak")
    assert_cycles(result, "*Node.parent*")


@pytest.mark.parametrize(
    "body",
    [
        "class Local:\n        pass\n    Local()",
        "import dataclasses\n    @dataclasses.dataclass\n    class D:\n        x: int = 1\n    D()",
        "import pytest\n    with pytest.raises(ZeroDivisionError) as excinfo:\n        1 / 0\n"
        "    assert excinfo.type is ZeroDivisionError",
        "from unittest import mock\n    import os\n    with mock.patch('os.getcwd', return_value='x'):\n"
        "        assert os.getcwd() == 'x'",
        "from xml.dom import minidom\n    minidom.parseString('<a><b/></a>')",
        "items = []\n    items.append(items)",
    ],
    ids=["class-in-test", "dataclass-in-test", "pytest-raises", "mock-patch", "stdlib-minidom",
         "cycle-in-test-code"],
)
def test_cycles_not_made_by_the_project_pass(leaky: pytest.Pytester, body: str) -> None:
    """Cycles made by test code, test tooling or the standard library pass by default."""
    leaky.makepyfile(test_it=f"def test_it():\n    {body}\n")
    result = run(leaky, "--refleak")
    result.assert_outcomes(passed=1)


def test_third_party_cycles_pass(pytester: pytest.Pytester) -> None:
    """Cycles made by a package installed in site-packages are not the project's defect."""
    site = pytester.path / "env" / "site-packages"
    site.mkdir(parents=True)
    (site / "thirdparty.py").write_text(
        "class Client:\n    def __init__(self):\n        self.me = self\n"
        "def connect():\n    Client()\n    d = {}\n    d['self'] = d\n"
    )
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(site)!r})\n")
    pytester.makepyfile(test_it="import thirdparty\ndef test_it(): thirdparty.connect()\n")
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=1)


def test_all_mode_counts_cycles_made_by_tests(leaky: pytest.Pytester) -> None:
    """--refleak-cycles=all fails a test for cycles, whoever made them."""
    leaky.makepyfile(test_it="def test_it():\n    class Local:\n        pass\n    Local()\n")
    result = run(leaky, "--refleak", "--refleak-cycles=all")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["CYCLES test_it.py::test_it - *"])


def test_off_mode_ignores_cycles(leaky: pytest.Pytester) -> None:
    """--refleak-cycles=off does not look at cycles at all."""
    leaky.makepyfile(test_it="import leakylib\ndef test_it(): leakylib.make_tree()\n")
    result = run(leaky, "--refleak", "--refleak-cycles=off")
    result.assert_outcomes(passed=1)


def test_one_time_cycle_passes(leaky: pytest.Pytester) -> None:
    """A cycle made only on the first call (lazy set-up) is not a per-call defect."""
    leaky.makepyfile(
        test_it="""
        import leakylib
        _done = []
        def test_it():
            if not _done:
                _done.append(1)
                leakylib.make_tree()
        """
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(passed=1)
