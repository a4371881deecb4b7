"""``kycbridge serve`` from the command line: the refusals, and a real run stopped by SIGTERM."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import urllib3

from kycbridge.cli import main

TOKEN = "cli-test-token-0123456789abcdef"


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    err = io.StringIO()
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        code = main(args, stdout=io.StringIO(), stderr=err)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return code, err.getvalue()


def test_a_public_address_needs_a_token(tmp_path: Path) -> None:
    code, err = run_cli(
        ["serve", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")],
        {"KYCBRIDGE_SERVE_TOKEN": ""},
    )
    assert code == 2 and "without a token" in err


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    code, err = run_cli(
        ["serve", "--db", str(tmp_path / "x.db")], {"KYCBRIDGE_SERVE_TOKEN": "short"}
    )
    assert code == 2 and "at least 16" in err and "short" not in err.replace("at least", "")


def test_serve_runs_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KYCBRIDGE_SERVE_TOKEN": TOKEN,
        "KYCBRIDGE_DB": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kycbridge.cli", "serve", "--port", "0", "--no-scheduler"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        assert TOKEN not in line
        url = f"http://127.0.0.1:{match.group(1)}"
        http = urllib3.PoolManager(retries=False, timeout=10)
        assert http.request("GET", url + "/healthz").status == 200
        assert http.request("GET", url + "/api/v1/subjects").status == 401
        response = http.request(
            "GET", url + "/api/v1/subjects", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status == 200
        assert json.loads(response.data) == {"subjects": [], "next_cursor": None}
        http.clear()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        rest = process.stderr.read()
        assert "stopped" in rest and TOKEN not in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_the_cli_works_without_the_serve_extra(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "sys.modules['jinja2'] = None\n"
        "sys.modules['prometheus_client'] = None\n"
        "from kycbridge.cli import main\n"
        "assert main(['--version']) == 0\n"
        f"sys.exit(main(['serve', '--db', {str(tmp_path / 'x.db')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KYCBRIDGE_SERVE_TOKEN": TOKEN},
    )
    assert done.returncode == 1, done.stderr
    assert "pip install 'kycbridge[serve]'" in done.stderr
