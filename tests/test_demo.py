"""``kycbridge demo``: the sandbox's demo scenarios watched to their outcomes."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from toy import TOY_TOKEN, ToyProvider, ToySimulator, toy_plugin
from unlimited import unlimited_installed

import kycbridge
from kycbridge import Bridge
from kycbridge.cli import main
from kycbridge.plugins import PluginRegistry
from kycbridge.redact import mask
from kycbridge.sandbox import Scenario

DEMOS = [
    (info.name, scenario)
    for info in PluginRegistry().simulators()
    for scenario in info.simulator.scenarios
    if scenario.demo
]
needs_plugins = pytest.mark.skipif(not DEMOS, reason="no plugin with demo scenarios installed")
CHANGE = re.compile(r"^\d\d:\d\d:\d\d (\w+) (\S+): (\w+) -> (\w+)")


def run(*argv: str, bridge: Bridge | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), bridge=bridge, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def check_human_output(out: str) -> None:
    lines = out.splitlines()
    assert lines[0].startswith("kycbridge demo: sandbox on http://127.0.0.1:")
    changes = [m.groups() for m in map(CHANGE.match, lines) if m]
    providers = sorted({name for name, _ in DEMOS})
    for name in providers:
        assert name in lines, f"no table for {name}"
        assert any(c[0] == name for c in changes)
    for name, scenario in DEMOS:
        subject = mask(scenario.subject)
        rows = [line for line in lines if line.startswith(f"  {subject} ")]
        assert rows and any(row.rstrip().endswith(" ok") for row in rows), subject
        assert any(
            c[0] == name and c[1] == subject and c[3] == scenario.outcome for c in changes
        ), (name, subject)
    assert lines[-1] == (
        f"{len(DEMOS)} of {len(DEMOS)} demo scenarios reached their documented outcome."
    )


def unlimited_bridge() -> Bridge:
    """The installed plugins without client-side rate limits (each plugin tests its own)."""
    return Bridge([unlimited_installed])


@needs_plugins
def test_demo_in_process():
    code, out, err = run("demo", bridge=unlimited_bridge())
    assert code == 0, err
    check_human_output(out)
    assert err == ""
    # transitions go forward, one line per change, the first from "start"
    starts = [line for line in out.splitlines() if ": start -> " in line]
    assert len(starts) == len(DEMOS)


@needs_plugins
def test_demo_json():
    code, out, _ = run("demo", "--json", bridge=unlimited_bridge())
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert all(row["event"] == "change" for row in rows[:-1])
    summary = rows[-1]
    assert summary["event"] == "summary" and summary["ok"] is True
    assert len(summary["scenarios"]) == len(DEMOS)
    assert {(s["provider"], s["subject"]) for s in summary["scenarios"]} == {
        (name, scenario.subject) for name, scenario in DEMOS
    }
    assert all(s["result"] == s["outcome"] and s["polls"] >= 1 for s in summary["scenarios"])


@needs_plugins
def test_demo_console_script():
    beside = Path(sys.executable).parent / "kycbridge"  # the one installed with this Python
    exe = str(beside) if beside.exists() else shutil.which("kycbridge")
    assert exe, "the kycbridge console script is not installed"
    done = subprocess.run([exe, "demo"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    check_human_output(done.stdout)


def test_demo_without_simulators_is_7():
    code, out, err = run("demo", bridge=Bridge([], env={}))
    assert code == 7 and out == ""
    assert "no simulators installed" in err


def test_demo_without_demo_scenarios_is_7():
    code, _, err = run("demo", bridge=Bridge([toy_plugin], env={}))
    assert code == 7
    assert "mark no scenario demo=True" in err


class DemoToySimulator(ToySimulator):
    """The toy simulator with three demo scenarios, one of which ends off-script."""

    scenarios = (
        Scenario(
            "d-ok",
            {"subject": "d-ok", "token": TOY_TOKEN},
            "approved",
            ("NEW", "REVIEW", "OK"),
            "approved",
            demo=True,
        ),
        Scenario(
            "d-off",
            {"subject": "d-off", "token": TOY_TOKEN},
            "says approved, plays NO",
            ("NEW", "NO"),
            "approved",
            demo=True,
        ),
        Scenario(
            "err-404",
            {"subject": "err-404", "token": TOY_TOKEN},
            "not found",
            (),
            "not_found",
            demo=True,
        ),
        Scenario(
            "d-skip",
            {"subject": "d-skip", "token": TOY_TOKEN},
            "not a demo",
            ("NEW",),
            "not_started",
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self.scripts.update({"d-ok": ["NEW", "REVIEW", "OK"], "d-off": ["NEW", "NO"]})


class demo_toy_plugin:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register):
        register(ToyProvider())

    @staticmethod
    @kycbridge.hookimpl
    def register_simulators(register):
        register(DemoToySimulator())


def test_demo_fails_when_a_scenario_misses_its_outcome():
    code, out, err = run("demo", bridge=Bridge([demo_toy_plugin], env={}))
    assert code == 1
    lines = out.splitlines()
    assert "watching 3 demo scenarios (toy 3)" in lines[0]
    assert re.search(r"^  d\*\*\* +rejected +NO +2 +FAILED \(expected approved\)$", out, re.M)
    assert re.search(r"^  e\*\*\* +not_found +- +1 +ok$", out, re.M)
    assert lines[-1] == "2 of 3 demo scenarios reached their documented outcome."
    assert "demo toy d*** ended in rejected, expected approved" in err
    assert "d-skip" not in out
