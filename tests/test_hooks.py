"""The plugin's hooks: projects clear their own caches and declare what is not a leak."""

from __future__ import annotations

import pytest
from conftest import run

CACHE_FILLING_TEST = "import leakylib\ndef test_it():\n    leakylib.cache_bytes(10)\n"


def test_clear_caches_hook_lets_project_caches_fill(leaky: pytest.Pytester) -> None:
    """A cache the project empties in pytest_refleak_clear_caches is not a leak."""
    leaky.makeconftest(
        """
        import leakylib
        def pytest_refleak_clear_caches(config):
            leakylib._cache.clear()
        """
    )
    leaky.makepyfile(test_it=CACHE_FILLING_TEST)
    result = run(leaky, "--refleak")
    result.assert_outcomes(passed=1)


def test_without_clear_caches_hook_the_growth_is_a_leak(leaky: pytest.Pytester) -> None:
    """The same growth, with no hook to clear it, is reported."""
    leaky.makepyfile(test_it=CACHE_FILLING_TEST)
    result = run(leaky, "--refleak")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_it - *"])


@pytest.mark.parametrize(
    "declared",
    ["[leakylib._registry]", "[leakylib.Thing]"],
    ids=["object", "type"],
)
def test_ignore_hook(leaky: pytest.Pytester, declared: str) -> None:
    """Objects and types returned by pytest_refleak_ignore are not counted as leaks."""
    leaky.makeconftest(
        f"""
        import leakylib
        def pytest_refleak_ignore(item):
            return {declared}
        """
    )
    leaky.makepyfile(
        test_it="import leakylib\ndef test_it():\n    leakylib.append_thing()\n"
        "def test_other():\n    leakylib.subscribe()\n"
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_other - *"])


def test_hooks_can_be_implemented_without_the_plugin_running(pytester: pytest.Pytester) -> None:
    """A conftest that implements the hooks is valid even when checking is off."""
    pytester.makeconftest(
        "def pytest_refleak_clear_caches(config):\n    pass\n"
        "def pytest_refleak_ignore(item):\n    return []\n"
    )
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
