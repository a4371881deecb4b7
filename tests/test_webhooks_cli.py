"""``kycbridge webhooks verify`` in-process, ``serve`` as a real process on loopback."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys

import pytest

import kycbridge
import kycbridge_transak
from kycbridge.testing.webhooks import post
from kycbridge.webhooks import cli
from kycbridge_transak.simulator import SANDBOX_PARTNER_TOKEN, webhook_body


def parse(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub)
    return parser.parse_args(["webhooks", *argv])


def run(argv, bridge=None):
    out, err = io.StringIO(), io.StringIO()
    bridge = bridge or kycbridge.Bridge(
        [kycbridge_transak],
        settings={"transak": {"partner_access_token": SANDBOX_PARTNER_TOKEN}},
        env={},
    )
    code = cli.run(parse(argv), out, err, bridge=bridge)
    return code, out.getvalue(), err.getvalue()


DATA = {
    "partnerUserId": "user-\x1b[31m-000042",
    "kycStatus": "APPROVED",
    "updatedAt": "2024-01-01T00:00:00Z",
}


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "body.json"
    path.write_bytes(webhook_body("KYC_APPROVED", DATA))
    return str(path)


def test_verify_a_valid_delivery(good):
    code, out, err = run(
        ["verify", "transak", "--body", good, "-H", "Content-Type: application/json"]
    )
    assert code == 0, err
    assert "transak KYC_APPROVED" in out and "approved (raw: APPROVED), final" in out
    assert DATA["partnerUserId"] not in out and "\x1b" not in out  # masked and escaped
    code, out, _ = run(["verify", "transak", "--body", good, "--json"])
    line = json.loads(out)
    assert code == 0 and line["valid"] and line["report"]["state"] == "approved"
    assert out.isascii()


def test_verify_exit_codes(tmp_path, good):
    forged = tmp_path / "forged.json"
    forged.write_bytes(
        webhook_body("KYC_APPROVED", DATA, key="another-key-0123456789abcdef0123456789")
    )
    assert run(["verify", "transak", "--body", str(forged)])[0] == 3
    assert (
        json.loads(run(["verify", "transak", "--body", str(forged), "--json"])[1])["error"]
        == "unauthorized"
    )
    junk = tmp_path / "junk"
    junk.write_bytes(b"not json")
    assert run(["verify", "transak", "--body", str(junk)])[0] == 6
    assert run(["verify", "transak", "--body", str(tmp_path / "missing")])[0] == 2
    assert run(["verify", "transak", "--body", good, "-H", "no colon"])[0] == 2
    assert run(["verify", "nosuch", "--body", good])[0] == 7
    assert run(["verify", "Bad Name", "--body", good])[0] == 2
    unconfigured = kycbridge.Bridge([kycbridge_transak], env={})
    assert run(["verify", "transak", "--body", good], bridge=unconfigured)[0] == 2
    assert run([])[0] == 2


def test_serve_refuses_a_public_host_without_the_flag():
    code, _, err = run(["serve", "--host", "0.0.0.0"])
    assert code == 2 and "--allow-public" in err


def test_serve_runs_the_receiver_and_prints_ndjson():
    env = {**os.environ, "KYCBRIDGE_TRANSAK_PARTNER_ACCESS_TOKEN": SANDBOX_PARTNER_TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kycbridge.webhooks.cli", "serve", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        banner = proc.stderr.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", banner).group(1))
        url = f"http://127.0.0.1:{port}/webhooks/transak"
        assert post(url, {}, webhook_body("KYC_APPROVED", DATA))[0] == 200
        assert post(url, {}, webhook_body("ORDER_COMPLETED", {"id": "o"}))[0] == 200  # no line
        assert (
            post(url, {}, webhook_body("KYC_REJECTED", {**DATA, "kycStatus": "REJECTED"}))[0] == 200
        )
        lines = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert [line["report"]["state"] for line in lines] == ["approved", "rejected"]
        assert lines[0]["event_type"] == "KYC_APPROVED"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
