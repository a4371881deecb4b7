"""The CLI frame, against the toy provider over real HTTP."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest
from toy import TOY_TOKEN

from kycbridge.cli import main


def run(bridge, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), bridge=bridge, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_status_json_prints_one_report(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["OK"]
    code, out, err = run(
        toy_bridge, "status", "toy", "-p", "subject=s1", "-p", f"token={TOY_TOKEN}", "--json"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["provider"] == "toy" and data["state"] == "approved"
    assert data["final"] is True and data["approved"] is True
    assert data["observed_at"].endswith("Z")
    assert TOY_TOKEN not in out + err


def test_status_human_line(toy_bridge, toy_sim):
    toy_sim.scripts["flag-1"] = ["REVIEW"]
    code, out, _ = run(
        toy_bridge, "status", "toy", "-p", "subject=flag-1", "-p", f"token={TOY_TOKEN}"
    )
    assert code == 0
    assert "in_review (raw: REVIEW), not final" in out
    assert "BLOCKLISTED" in out


@pytest.mark.parametrize(
    ("subject", "code", "kind"),
    [
        ("err-401", 3, "authentication"),
        ("err-404", 4, "not_found"),
        ("err-500", 5, "unavailable"),
        ("err-429", 5, "rate_limited"),
        ("err-418", 10, "request_rejected"),
    ],
)
def test_exit_codes_and_json_errors(toy_bridge, subject, code, kind):
    got, out, err = run(
        toy_bridge,
        "status",
        "toy",
        "-p",
        f"subject={subject}",
        "-p",
        f"token={TOY_TOKEN}",
        "--json",
    )
    assert got == code
    error = json.loads(out)["error"]
    assert error["type"] == kind and error["provider"] == "toy"
    assert error["http_status"] == int(subject[4:])
    assert len(err.strip().splitlines()) == 1 and "toy" in err
    assert TOY_TOKEN not in out + err


def test_invalid_query_is_2_and_sends_nothing(toy_bridge, toy_sandbox):
    code, out, _ = run(toy_bridge, "status", "toy", "-p", "subjekt=x", "--json")
    assert code == 2
    assert json.loads(out)["error"]["type"] == "invalid_query"
    assert toy_sandbox.requests == {}


def test_malformed_response_is_6(toy_bridge):
    code, out, _ = run(
        toy_bridge, "status", "toy", "-p", "subject=junk", "-p", f"token={TOY_TOKEN}", "--json"
    )
    assert code == 6
    assert json.loads(out)["error"]["type"] == "malformed_response"


def test_base_url_option_overrides_the_setting(toy_bridge, toy_sandbox):
    code, _, err = run(
        toy_bridge,
        "status",
        "toy",
        "-p",
        "subject=s",
        "-p",
        f"token={TOY_TOKEN}",
        "--base-url",
        toy_sandbox.base_url + "/nowhere",
    )
    assert code == 4 and "toy" in err  # the sandbox has no /nowhere simulator: a 404


def test_usage_errors_exit_2(toy_bridge):
    with pytest.raises(SystemExit) as info:
        run(toy_bridge, "status", "toy", "-p", "novalue")
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        run(toy_bridge, "frobnicate")
    assert info.value.code == 2


def test_not_installed_is_7(toy_bridge):
    code, _, err = run(toy_bridge, "status", "nope", "-p", "x=1")
    assert code == 7 and "installed: toy" in err


def test_console_script_is_installed():
    exe = shutil.which("kycbridge") or f"{sys.prefix}/bin/kycbridge"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("kycbridge ")
