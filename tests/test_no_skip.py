"""The repository's no-skip policy (``conftest.py`` at the root, ``KYCBRIDGE_NO_SKIP``)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"

SOME_SKIPS = """
import pytest

def test_runs():
    pass

def test_skipped():
    pytest.skip("needs something")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    raise AssertionError
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(ROOT_CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nxfail_strict = true\n")
    return pytester


def test_a_skip_fails_the_session_when_skips_are_forbidden(project, monkeypatch):
    monkeypatch.setenv("KYCBRIDGE_NO_SKIP", "1")
    project.makepyfile(test_some=SOME_SKIPS)
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*KYCBRIDGE_NO_SKIP: skipped tests fail this run*", "SKIPPED *test_skipped: *"]
    )
    assert "test_expected_failure" not in result.stdout.str().split("fail this run")[1]


def test_a_module_skipped_at_collection_fails_the_session(project, monkeypatch):
    monkeypatch.setenv("KYCBRIDGE_NO_SKIP", "1")
    project.makepyfile(test_gone="import pytest\npytest.importorskip('no_such_module_x')\n")
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED *test_gone.py: *no_such_module_x*"])


def test_skips_are_allowed_without_the_variable(project, monkeypatch):
    monkeypatch.delenv("KYCBRIDGE_NO_SKIP", raising=False)
    project.makepyfile(test_some=SOME_SKIPS)
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_xfail_stays_strict(project, monkeypatch):
    monkeypatch.setenv("KYCBRIDGE_NO_SKIP", "1")
    project.makepyfile(
        test_x="import pytest\n@pytest.mark.xfail(reason='k')\ndef test_passes():\n    pass\n"
    )
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_repository_keeps_xfail_strict(pytestconfig):
    assert pytestconfig.getini("xfail_strict") is True


def test_ci_runs_property_tests_deterministically_and_without_deadlines() -> None:
    # tox (hence .ci/run) selects the "ci" profile: no example depends on chance or on how
    # busy the machine is (no random seed, no example database, no per-example deadline).
    import configparser

    from hypothesis import HealthCheck, settings

    profile = settings.get_profile("ci")
    assert profile.derandomize and profile.database is None and profile.deadline is None
    assert HealthCheck.too_slow in profile.suppress_health_check
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(Path(__file__).resolve().parents[1] / "tox.ini")
    assert "HYPOTHESIS_PROFILE = {env:HYPOTHESIS_PROFILE:ci}" in tox["testenv"]["set_env"]
