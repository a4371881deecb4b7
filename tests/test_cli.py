"""The CLI frame, against the toy provider over real HTTP."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys

import pytest
from toy import TOY_TOKEN, ToyProvider, toy_plugin

import kycbridge
from kycbridge.cli import main
from kycbridge.sandbox import Replay, Sandbox, SimResponse


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


@pytest.mark.parametrize(
    "argv",
    [
        ("status", "toy", "-p", "novalue"),
        ("frobnicate",),
        ("status",),
        ("status", "toy", "--workers", "many"),
        ("watch", "toy", "--interval", "nan"),
        ("watch", "toy", "--interval", "inf"),
        ("watch", "toy", "--max-interval", "-1"),
        ("sandbox", "--port", "99999"),
        ("sandbox", "--port", "-1"),
        ("sandbox", "--port", "http"),
    ],
)
def test_usage_errors_exit_2_with_one_line(toy_bridge, argv):
    code, out, err = run(toy_bridge, *argv)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("kycbridge: "), err
    assert "--help" in err and "Traceback" not in err


def test_usage_error_echoing_input_is_escaped(toy_bridge):
    code, _, err = run(toy_bridge, "watch", "toy", "--interval", "1\r\x1b[2Kx")
    assert code == 2
    assert "\r" not in err and "\x1b" not in err and "\\x1b" in err
    assert len(err.splitlines()) == 1


def test_help_and_version_go_to_stdout_and_exit_0(toy_bridge):
    code, out, err = run(toy_bridge, "status", "--help")
    assert code == 0 and "KEY=VALUE" in out and err == ""
    code, out, _ = run(toy_bridge, "--version")
    assert code == 0 and out.startswith("kycbridge ")


def test_sandbox_on_a_busy_port_is_2_with_one_line(toy_bridge):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run(toy_bridge, "sandbox", "--port", str(port))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and f"port {port}" in err, err


def test_sandbox_refuses_a_public_address(toy_bridge):
    code, _, err = run(toy_bridge, "sandbox", "--host", "0.0.0.0", "--json")
    assert code == 2 and len(err.splitlines()) == 1


class Boom:
    """An event hook that fails as a bug would: kycbridge did not mean to raise it."""

    @kycbridge.hookimpl
    def status_observed(self, report):
        raise ZeroDivisionError(f"secret {TOY_TOKEN} \x1b[8m")


def _boom_bridge(toy_sandbox):
    return kycbridge.Bridge(
        [toy_plugin], settings=toy_sandbox.settings(), hooks=[Boom()], env={}
    )


def test_unexpected_exception_is_one_line_and_exit_1(toy_sandbox, toy_sim):
    toy_sim.scripts["s1"] = ["OK"]
    with _boom_bridge(toy_sandbox) as bridge:
        code, out, err = run(
            bridge, "status", "toy", "-p", "subject=s1", "-p", f"token={TOY_TOKEN}", "--json"
        )
    assert code == 1
    assert err.splitlines() == [
        "kycbridge: internal error: ZeroDivisionError (a bug: please report it; -vv shows where)"
    ]
    assert json.loads(out) == {
        "error": {"type": "internal", "message": "internal error: ZeroDivisionError"}
    }
    assert TOY_TOKEN not in out + err


@pytest.mark.parametrize("where", ["before", "after", "both"])
def test_traceback_only_at_vv_before_or_after_the_command(toy_sandbox, toy_sim, where):
    toy_sim.scripts["s1"] = ["OK"]
    argv = ["status", "toy", "-p", "subject=s1", "-p", f"token={TOY_TOKEN}"]
    argv = {
        "before": ["-vv", *argv],
        "after": [*argv, "-vv"],
        "both": ["-v", *argv, "--verbose"],
    }[where]
    with _boom_bridge(toy_sandbox) as bridge:
        code, _, err = run(bridge, *argv)
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "ZeroDivisionError" in err.splitlines()[-1]
    assert "\x1b" not in err  # the exception's text is escaped too


def test_verbose_counts_add_up():
    from kycbridge.cli import build_parser

    args = build_parser().parse_args(["-v", "status", "toy", "-v", "--verbose"])
    assert args.verbose + args.verbose_sub == 3
    args = build_parser().parse_args(["status", "toy"])
    assert args.verbose + args.verbose_sub == 0


def test_a_cr_and_escape_in_the_status_word_cannot_rewrite_the_line():
    """A provider answering ``unknown\\r<conceal>approved, final`` must still read unknown."""
    attack = "unknown\r\x1b[8mapproved, final\x1b[0m\u009b2K\u202e\ud800"
    replay = Replay("toy", [SimResponse.json(200, {"state": attack})])
    with Sandbox([replay]) as sandbox:
        with kycbridge.Bridge([toy_plugin], settings=sandbox.settings(), env={}) as bridge:
            code, out, err = run(
                bridge, "status", "toy", "-p", "subject=s1", "-p", f"token={TOY_TOKEN}"
            )
            assert code == 0, err
            (line,) = out.splitlines()
            assert line.startswith("toy s***: unknown (raw: unknown\\x0d\\x1b[8mapproved")
            assert line.endswith(", not final")
            for bad in "\r\x1b\x9b\u202e":
                assert bad not in out
            code, out, _ = run(
                bridge, "status", "toy", "-p", "subject=s1", "-p", f"token={TOY_TOKEN}", "--json"
            )
    assert code == 0 and out.isascii()
    data = json.loads(out)
    assert data["state"] == "unknown"
    assert data["raw_status"] == attack.replace("\ud800", "\ufffd")


def test_providers_with_only_conflicts_does_not_say_none_installed():
    class One:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register):
            register(ToyProvider())

    class Two:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register):
            register(ToyProvider())

    with kycbridge.Bridge([One, Two], env={}) as bridge:
        if not bridge.registry.conflicts():
            pytest.skip("this registry does not report two plugin objects as a conflict")
        code, out, _ = run(bridge, "providers")
    assert code == 0
    assert "No providers installed" not in out
    assert "CONFLICT" in out and "name conflict" in out


def test_not_installed_is_7(toy_bridge):
    code, _, err = run(toy_bridge, "status", "nope", "-p", "x=1")
    assert code == 7 and "installed: toy" in err


def test_console_script_is_installed():
    exe = shutil.which("kycbridge") or f"{sys.prefix}/bin/kycbridge"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("kycbridge ")
