"""``kycbridge track ...`` (through :mod:`kycbridge.tracking.cli`), on a SQLite file."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kycbridge.sandbox import Sandbox
from kycbridge.tracking import cli, open_store

EMAIL = "approved@sandbox.starkfi.test"


def track(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="kycbridge")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["track", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox.from_installed() as sandbox:
        monkeypatch.setenv("KYCBRIDGE_STARKFI_BASE_URL", sandbox.url("starkfi"))
        monkeypatch.setenv("KYCBRIDGE_STARKFI_API_KEY", "sk_sandbox_starkfi")
        monkeypatch.setenv("KYCBRIDGE_TRANSAK_BASE_URL", sandbox.url("transak"))
        monkeypatch.setenv("KYCBRIDGE_TRANSAK_ACCESS_TOKEN", "sandbox-user-token")
        yield sandbox


def test_add_list_history_run(db: str, sandbox_env: Sandbox) -> None:
    code, out, _ = track("add", "starkfi", "-p", f"email={EMAIL}", "--db", db)
    assert code == 0 and "tracking #1" in out and EMAIL not in out
    code, _, err = track("add", "starkfi", "-p", f"email={EMAIL}", "--db", db)
    assert code == 2 and "already tracked (id 1)" in err
    code, _, err = track("add", "starkfi", "-p", "email=nope", "--db", db)
    assert code == 2
    code, out, _ = track("run", "--once", "--workers", "2", "--db", db)
    assert code == 0
    code, out, _ = track("list", "--json", "--db", db)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["state"] for r in rows] == ["not_started"] and rows[0]["subject"] != EMAIL
    code, out, _ = track("list", "--state", "approved", "--db", db)
    assert code == 0 and out == ""
    code, out, _ = track("history", "1", "--db", db)
    assert code == 0 and "- -> not_started" in out
    assert track("history", "99", "--db", db)[0] == 4


def test_import_counts_added_known_and_failed(db: str, tmp_path: Path) -> None:
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"work_flow_run_id": "wfr-approved"}\n'
        "\n"
        '{"work_flow_run_id": "wfr-approved"}\n'
        "not json\n"
        '{"work_flow_run_id": "wfr-rejected", "access_token": "tok-from-the-line"}\n'
    )
    code, out, err = track(
        "import",
        str(lines),
        "--provider",
        "transak",
        "-p",
        "access_token=tok-default",
        "--json",
        "--db",
        db,
    )
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 9
    assert [r["line"] for r in results] == [1, 3, 4, 5]
    assert "id" in results[0] and results[1]["already_tracked"] == results[0]["id"]
    assert results[2]["error"]["type"] == "invalid_query"
    assert "2 added, 1 already tracked, 1 failed" in err
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cli.sqlite3*"))
    assert b"tok-" not in raw  # secret query fields are never stored


def test_export_ndjson_and_csv(db: str, sandbox_env: Sandbox) -> None:
    track("add", "starkfi", "-p", "email=declined@sandbox.starkfi.test", "--db", db)
    store = open_store(db)
    store.record(1, {"state": "in_review", "raw_status": "=cmd()"}, now=2_000_000_000.0)
    store.close()
    code, out, _ = track("export", "--db", db)
    assert code == 0 and json.loads(out.splitlines()[0])["new_state"] == "in_review"
    code, out, _ = track("export", "--format", "csv", "--db", db)
    header, row = out.splitlines()
    assert header.startswith("id,subject_id,provider,at") and "'=cmd()" in row
    code, out, _ = track("export", "--since", "2033-06-01T00:00Z", "--db", db)
    assert code == 0 and out == ""  # 2_000_000_000 is in May 2033
    assert track("export", "--since", "yesterday-ish", "--db", db)[0] == 2


def test_forget_erases_and_vacuums(db: str, tmp_path: Path, sandbox_env: Sandbox) -> None:
    track("add", "starkfi", "-p", f"email={EMAIL}", "--db", db)
    track("run", "--once", "--db", db)
    code, out, _ = track("forget", "1", "--db", db)
    assert code == 0 and "forgot #1" in out
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cli.sqlite3*"))
    assert EMAIL.encode() not in raw
    conn = sqlite3.connect(str(tmp_path / "cli.sqlite3"))
    assert conn.execute("SELECT subject_masked FROM subjects").fetchone()[0] == "forgotten"
    conn.close()
    assert track("forget", "1", "--db", db)[0] == 0
    assert track("forget", "7", "--db", db)[0] == 4


def test_info_shows_the_database_and_the_default(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    code, out, _ = track("info", "--json", "--db", db)
    data = json.loads(out)
    assert code == 0 and data["from"] == "--db" and data["schema_version"] == 1
    assert data["default_sqlite"] == str(tmp_path / "xdg" / "kycbridge" / "tracking.sqlite3")
    monkeypatch.setenv("KYCBRIDGE_DB", db)
    assert json.loads(track("info", "--json")[1])["from"] == "KYCBRIDGE_DB"
    code, out, _ = track("info", "--db", "postgresql://kyc:s3cret@127.0.0.1:1/x?connect_timeout=1")
    assert code == 5 and "s3cret" not in out


def test_durations() -> None:
    assert cli.parse_duration("90") == 90
    assert cli.parse_duration("15m") == 900 and cli.parse_duration("2H") == 7200
    for bad in ("", "0", "-1h", "1y", "nan"):
        with pytest.raises(ValueError):
            cli.parse_duration(bad)
    assert cli.parse_duration("0", zero=True) == 0 and cli.parse_duration("0.0m", zero=True) == 0
    for bad in ("", "-1s", "1y", "nan", "3651d"):
        with pytest.raises(ValueError):
            cli.parse_duration(bad, zero=True)
    assert cli.parse_since("1h", 10_000.0) == 6400.0
    assert cli.parse_since("1970-01-01T01:00:00", 0) == 3600.0


def test_importable_without_the_extras() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None;"
        " sys.modules['redis'] = None\n"
        "import kycbridge, kycbridge.tracking, kycbridge.tracking.cli\n"
        "from kycbridge.tracking.limiters import limiter_factory\n"
        "for make in (lambda: kycbridge.tracking.open_store('postgresql://db/x'),"
        " lambda: limiter_factory('redis://127.0.0.1/0')):\n"
        "    try:\n"
        "        make()\n"
        "    except kycbridge.InvalidQuery as exc:\n"
        "        print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "install kycbridge[postgres]" in done.stdout
    assert "install kycbridge[redis]" in done.stdout


@pytest.mark.parametrize("value", ["0", "-3", "1001", "ten", "2.5"])
def test_run_group_is_checked_with_one_line(db: str, value: str) -> None:
    from kycbridge.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["track", "run", "--once", "--group", value, "--db", db], stdout=out, stderr=err)
    assert code == 2 and out.getvalue() == ""
    assert len(err.getvalue().splitlines()) == 1 and "--group" in err.getvalue(), err.getvalue()


@pytest.mark.parametrize("value", ["-1", "61", "61s", "2m", "soon", "nan", "inf"])
def test_run_group_wait_is_checked_with_one_line(db: str, value: str) -> None:
    from kycbridge.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = ["track", "run", "--once", f"--group-wait={value}", "--db", db]
    code = main(argv, stdout=out, stderr=err)
    assert code == 2 and out.getvalue() == ""
    assert len(err.getvalue().splitlines()) == 1, err.getvalue()
    assert "--group-wait" in err.getvalue()


def test_run_with_a_group(db: str, sandbox_env: Sandbox) -> None:
    for local in ("approved", "declined", "notfound"):
        assert (
            track("add", "starkfi", "-p", f"email={local}@sandbox.starkfi.test", "--db", db)[0] == 0
        )
    code, _, err = track("run", "--once", "--workers", "1", "--group", "2", "--db", db)
    assert code == 0 and "3 poll(s)" in err
    for zero in ("0", "0s", "0.0m"):
        again = ("run", "--once", "--group", "1", "--group-wait", zero, "--db", db)
        assert track(*again)[0] == 0  # nothing due: the values are accepted
    store = open_store(db)
    try:
        subjects = store.subjects()
        assert [s.state is not None for s in subjects] == [True, True, False]
        assert subjects[2].last_error == "not_found"
        assert all(s.lease_owner is None for s in subjects)
    finally:
        store.close()
