"""Bulk status: many subjects of one provider, concurrently, over real HTTP."""

from __future__ import annotations

import io
import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from toy import TOY_TOKEN, ToySimulator

import kycbridge
from kycbridge import Bridge
from kycbridge.bulk import BulkResult, bulk_status, transport_for
from kycbridge.cli import main
from kycbridge.errors import InvalidQuery, ProviderNotInstalled
from kycbridge.sandbox import Sandbox
from kycbridge.transport import Transport

WORDS = {
    "NEW": "not_started",
    "WORKING": "in_progress",
    "REVIEW": "in_review",
    "OK": "approved",
    "NO": "rejected",
}


def outcome(result: BulkResult) -> str:
    if result.report is not None:
        return result.report.state.value + ("!" if result.report.blocklisted else "")
    assert result.error is not None
    return result.error.kind


def mixed(toy_sim: ToySimulator, n: int) -> tuple[list[dict[str, str]], list[str]]:
    """``n`` queries with mixed outcomes and faults, and the outcome each must get."""
    queries: list[dict[str, str]] = []
    expected: list[str] = []
    words = list(WORDS)
    for i in range(n):
        kind = i % 10
        if kind < 5:
            subject = f"u{i}"
            word = words[(i // 10 + kind) % len(words)]
            toy_sim.scripts[subject] = [word, "NO"]  # a second call would say NO
            want = WORDS[word]
        elif kind == 5:
            subject, want = "err-404", "not_found"
        elif kind == 6:
            subject, want = "err-500", "unavailable"
        elif kind == 7:
            subject, want = "junk", "malformed_response"
        elif kind == 8:
            subject, want = "err-401", "authentication"
        else:
            subject = f"flag{i}"
            toy_sim.scripts[subject] = ["REVIEW"]
            want = "in_review!"
        queries.append({"subject": subject, "token": TOY_TOKEN})
        expected.append(want)
    return queries, expected


# -- the API --------------------------------------------------------------------------------
def test_hundreds_of_subjects_each_answered_exactly_once(toy_bridge, toy_sim):
    queries, expected = mixed(toy_sim, 300)
    results = list(bulk_status(toy_bridge, "toy", queries, workers=16))
    assert sorted(r.index for r in results) == list(range(300))
    for result in results:
        assert outcome(result) == expected[result.index], result
        assert (result.report is None) != (result.error is None)
        assert result.query is queries[result.index]
    for i, query in enumerate(queries):
        if query["subject"].startswith(("u", "flag")):
            assert toy_sim.calls[query["subject"]] == 1, i  # asked once, never twice
    assert "query=" not in repr(results[0]) and TOY_TOKEN not in repr(results)


def test_results_do_not_depend_on_order_or_worker_count(toy_bridge, toy_sim):
    queries, expected = mixed(toy_sim, 40)
    for query in queries:  # single-word scripts answer the same however often asked
        script = toy_sim.scripts.get(query["subject"])
        if script:
            del script[1:]
    serial = {r.index: outcome(r) for r in bulk_status(toy_bridge, "toy", queries, workers=1)}
    indexed = list(enumerate(queries))
    random.Random(7).shuffle(indexed)
    parallel = {r.index: outcome(r) for r in bulk_status(toy_bridge, "toy", indexed, workers=12)}
    assert serial == parallel == dict(enumerate(expected))


def test_invalid_items_are_invalid_query_results_and_send_nothing(toy_bridge, toy_sandbox):
    items = [
        {"subjekt": "x"},
        "not a mapping",
        ["a", "list"],
        {"subject": ""},
        InvalidQuery("given as is"),
    ]
    results = sorted(bulk_status(toy_bridge, "toy", items), key=lambda r: r.index)
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert all(isinstance(r.error, InvalidQuery) for r in results)
    assert results[4].error is items[4]
    assert "not an object" in str(results[1].error)
    assert toy_sandbox.requests == {}


def test_defaults_are_merged_under_each_items_fields(toy_bridge, toy_sim):
    toy_sim.scripts["a"] = ["OK"]
    items = [{"subject": "a"}, {"subject": "a", "token": "wrong"}]
    results = sorted(
        bulk_status(toy_bridge, "toy", items, defaults={"token": TOY_TOKEN}),
        key=lambda r: r.index,
    )
    assert [outcome(r) for r in results] == ["approved", "authentication"]


def test_input_is_read_as_results_are_consumed(toy_bridge):
    consumed = 0

    def queries() -> Iterator[dict[str, str]]:
        nonlocal consumed
        for i in range(10_000):
            consumed += 1
            yield {"subject": f"s{i}", "token": TOY_TOKEN}

    results = bulk_status(toy_bridge, "toy", queries(), workers=4)
    first = next(results)
    assert first.report is not None
    assert consumed <= 2 * 4 + 1
    taken = [first] + [next(results) for _ in range(20)]
    assert consumed <= 21 + 2 * 4 + 1
    results.close()  # stops early: pending work is cancelled, the pool shut down
    assert len({r.index for r in taken}) == 21


def test_bad_workers_and_unknown_provider_raise_before_any_call(toy_bridge, toy_sandbox):
    with pytest.raises(InvalidQuery):
        bulk_status(toy_bridge, "toy", [{"subject": "a"}], workers=0)
    with pytest.raises(ProviderNotInstalled):
        bulk_status(toy_bridge, "nope", [{"subject": "a"}])
    assert toy_sandbox.requests == {}


def test_a_pool_at_least_as_big_as_the_workers():
    small = Transport(maxsize=4, retries=2, read_timeout=3)
    assert transport_for(small, 4) is small
    big = transport_for(small, 10)
    assert big is not small
    assert big.pool.connection_pool_kw["maxsize"] == 10
    assert big.pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert (big.timeout.read_timeout, big.retry.total, big.max_body) == (3, 2, small.max_body)
    assert small.pool.connection_pool_kw["maxsize"] == 4  # the original is untouched


def test_more_workers_than_the_default_pool_holds(toy_bridge, toy_sim, caplog):
    queries, expected = mixed(toy_sim, 120)
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        results = list(bulk_status(toy_bridge, "toy", queries, workers=40))
    assert sorted(r.index for r in results) == list(range(120))
    assert all(outcome(r) == expected[r.index] for r in results)
    assert "pool is full" not in caplog.text
    assert toy_bridge.transport.pool.connection_pool_kw["maxsize"] == 32


# -- StarkFi, when installed -------------------------------------------------------------------
def starkfi_bridge(sandbox: Sandbox, *, unlimited: bool) -> Bridge:
    provider_module = pytest.importorskip("kycbridge_starkfi.provider")

    class UnlimitedStarkFi(provider_module.StarkFiProvider):
        rate_limit = None

    class plugin:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register):
            register(UnlimitedStarkFi() if unlimited else provider_module.StarkFiProvider())

    transport = Transport(retries=1, backoff_factor=0.01, max_retry_after=0.1, read_timeout=2)
    return Bridge([plugin], settings=sandbox.settings(), transport=transport, env={})


def test_starkfi_hundreds_of_lines_with_its_rate_limit_lifted():
    sim_module = pytest.importorskip("kycbridge_starkfi.simulator")
    domain = sim_module.SANDBOX_DOMAIN
    plan = {  # single-step scripts (the same answer every call) and their outcomes
        f"instant-approved@{domain}": "approved",
        f"pending@{domain}": "in_progress",
        f"fault-nulls@{domain}": "in_progress",
        f"fault-extra-fields@{domain}": "in_review",
        f"notfound@{domain}": "not_found",
        f"nobody@{domain}": "not_found",
        f"fault-500@{domain}": "unavailable",
        f"fault-invalid-json@{domain}": "malformed_response",
        f"fault-wrong-types@{domain}": "malformed_response",
    }
    emails = list(plan)
    queries = [{"email": emails[i % len(emails)]} for i in range(270)]
    sim = sim_module.StarkFiSimulator(rate_limit=None)
    with Sandbox([sim]) as sandbox, starkfi_bridge(sandbox, unlimited=True) as bridge:
        results = list(bulk_status(bridge, "starkfi", queries, workers=16))
    assert sorted(r.index for r in results) == list(range(270))
    for result in results:
        assert outcome(result) == plan[queries[result.index]["email"]]


def test_starkfi_rate_limit_holds_across_workers():
    sim_module = pytest.importorskip("kycbridge_starkfi.simulator")
    email = f"instant-approved@{sim_module.SANDBOX_DOMAIN}"
    sim = sim_module.StarkFiSimulator()  # enforces 10/s, 429 beyond
    with Sandbox([sim]) as sandbox, starkfi_bridge(sandbox, unlimited=False) as bridge:
        started = time.monotonic()
        results = list(bulk_status(bridge, "starkfi", [{"email": email}] * 15, workers=8))
        elapsed = time.monotonic() - started
    assert [outcome(r) for r in results] == ["approved"] * 15
    assert sim.answered[429] == 0
    assert elapsed >= 1.3  # 15 calls spaced 0.1 s apart, whatever the worker count


# -- the CLI ----------------------------------------------------------------------------------
class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(bridge, *argv: str, err: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), err if err is not None else io.StringIO()
    code = main(list(argv), bridge=bridge, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


MIXED_INPUT = (
    "\n".join(
        [
            '{"subject": "c1"}',
            "",
            '{"subject": "c3"}',
            "{not json",
            "[1, 2]",
            '{"subject": "err-404"}',
            '{"subjekt": "x"}',
            "   ",
            '{"subject": "c9", "token": "wrong"}',
        ]
    )
    + "\n"
)


def test_cli_input_file_json(toy_bridge, toy_sim, tmp_path):
    toy_sim.scripts.update({"c1": ["OK"], "c3": ["REVIEW"], "c9": ["OK"]})
    path = tmp_path / "queries.jsonl"
    path.write_text(MIXED_INPUT)
    code, out, err = run(
        toy_bridge, "status", "toy", "--input", str(path), "-p", f"token={TOY_TOKEN}", "--json"
    )
    assert code == 9
    rows = [json.loads(line) for line in out.splitlines()]  # pure NDJSON
    by_line = {row["line"]: row for row in rows}
    assert len(rows) == len(by_line) == 7
    assert set(by_line) == {1, 3, 4, 5, 6, 7, 9}
    assert by_line[1]["report"]["state"] == "approved"
    assert by_line[3]["report"]["state"] == "in_review"
    kinds = {n: row["error"]["type"] for n, row in by_line.items() if "error" in row}
    assert kinds == {
        4: "invalid_query",
        5: "invalid_query",
        6: "not_found",
        7: "invalid_query",
        9: "authentication",
    }
    assert all(set(row) in ({"line", "report"}, {"line", "error"}) for row in rows)
    assert "summary: 7 lines: 2 reports, 5 errors" in err
    assert "states: approved 1, in_review 1" in err
    assert "errors: authentication 1, invalid_query 3, not_found 1" in err
    assert TOY_TOKEN not in out + err


def test_cli_input_human_all_good_is_0(toy_bridge, toy_sim, tmp_path):
    toy_sim.scripts.update({f"h{i}": ["OK" if i % 2 else "NEW"] for i in range(50)})
    path = tmp_path / "q.jsonl"
    path.write_text("".join(f'{{"subject": "h{i}"}}\n' for i in range(50)))
    code, out, err = run(
        toy_bridge,
        "status",
        "toy",
        "--input",
        str(path),
        "-p",
        f"token={TOY_TOKEN}",
        "--workers",
        "5",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == (
        "summary: 50 lines: 50 reports, 0 errors; states: approved 25, not_started 25"
    )
    body = sorted(lines[:-1], key=lambda line: int(line.split(":")[0].split()[1]))
    assert len(body) == 50
    assert body[0] == "line 1: toy h***: not_started (raw: NEW), not final"
    assert body[1] == "line 2: toy h***: approved (raw: OK), final"
    assert err == ""


def test_cli_input_from_stdin(toy_bridge, toy_sim, monkeypatch):
    toy_sim.scripts.update({"c1": ["OK"], "c3": ["REVIEW"], "c9": ["OK"]})
    monkeypatch.setattr(sys, "stdin", io.StringIO(MIXED_INPUT))
    code, out, _ = run(toy_bridge, "status", "toy", "--input", "-", "-p", f"token={TOY_TOKEN}")
    assert code == 9
    lines = out.splitlines()
    assert lines[-1].startswith("summary: 7 lines: 2 reports, 5 errors")
    assert "line 6: error: toy: " in out and "line 4: error: toy: not JSON" in out
    assert Counter(line.split(":")[0] for line in lines[:-1]) == Counter(
        f"line {n}" for n in (1, 3, 4, 5, 6, 7, 9)
    )


def test_cli_input_errors_are_2(toy_bridge, tmp_path):
    code, _, err = run(toy_bridge, "status", "toy", "--input", str(tmp_path / "missing"))
    assert code == 2 and "cannot read --input" in err
    path = tmp_path / "q.jsonl"
    path.write_text('{"subject": "a"}\n')
    code, _, err = run(toy_bridge, "status", "toy", "--input", str(path), "--workers", "0")
    assert code == 2 and "--workers" in err


def test_cli_empty_input_is_0(toy_bridge, tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("\n\n")
    code, out, _ = run(toy_bridge, "status", "toy", "--input", str(path))
    assert code == 0 and out == "summary: 0 lines: 0 reports, 0 errors\n"


def test_cli_progress_bar_only_on_a_terminal(toy_bridge, toy_sim, tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("".join(f'{{"subject": "p{i}"}}\n' for i in range(15)))
    err = TTY()
    code, out, _ = run(
        toy_bridge,
        "status",
        "toy",
        "--input",
        str(path),
        "-p",
        f"token={TOY_TOKEN}",
        "--json",
        "--workers",
        "1",
        err=err,
    )
    assert code == 0
    assert "/15" in err.getvalue() and err.getvalue().count("\r\x1b[K") >= 2
    assert "\x1b" not in out and len(out.splitlines()) == 15
