"""``kycbridge track ...``: tracked subjects from the command line.

Wired into ``kycbridge/cli.py`` like ``new-provider``: :func:`add_parser` adds the ``track``
command, :func:`run` runs it and returns the exit code (those of ``kycbridge.cli``: 0 done,
1 internal error, 2 usage or invalid query, 4 no such subject, 5 database unreachable,
9 some ``import`` lines failed, 130 interrupted).

The database is ``--db URL``, else env ``KYCBRIDGE_DB``, else the default SQLite file
(``track info`` prints it). Provider settings (API keys, base URLs) come from env
``KYCBRIDGE_<PROVIDER>_<SETTING>``; secret query fields (a user token) are never stored and
come from env ``KYCBRIDGE_<PROVIDER>_<FIELD>`` when ``track run`` polls.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import IO, Any

from ..bridge import Bridge
from ..errors import InvalidQuery, KYCBridgeError
from ..states import KYCState
from ..terminal import ERROR_LINE_LIMIT, json_line, safe_text
from .limiters import RedisLimiterFactory, limiter_factory, settings_fingerprint
from .policy import Policy
from .scheduler import GROUP, GROUP_WAIT, MAX_GROUP, MAX_GROUP_WAIT, MAX_WORKERS, Scheduler
from .store import DuplicateSubject, Store, default_sqlite_path, open_store
from .tracker import stored_fields

__all__ = ["add_parser", "main", "parse_duration", "parse_since", "run"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 4
EXIT_PARTIAL = 9
EXIT_INTERRUPTED = 130

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
MAX_DURATION = 10 * 365 * 86400.0
"""Longest duration accepted (ten years)."""
EXPORT_COLUMNS = (
    "id",
    "subject_id",
    "provider",
    "at",
    "source",
    "old_state",
    "new_state",
    "raw_status",
    "anomaly",
    "blocklisted",
    "event_id",
)
"""The CSV columns of ``track export --format csv`` (NDJSON lines also carry the report)."""

log = logging.getLogger("kycbridge.tracking")


def parse_duration(text: str, *, zero: bool = False) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``2h``, ``7d`` or ``1w``; raises ``ValueError``.

    ``zero``: accept a duration of zero (``0``, ``0s``, ``0.0m``...).
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 90s, 15m, 2h, 7d)")
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if not (math.isfinite(seconds) and (zero or seconds > 0) and seconds <= MAX_DURATION):
        least = "zero or more" if zero else "positive"
        raise ValueError(f"duration {text!r} must be {least} and at most ten years")
    return seconds


def parse_since(text: str, now: float) -> float:
    """Epoch seconds of an ISO 8601 time (UTC unless it says) or of a duration ago."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (an ISO 8601 time such as 2027-01-31T12:00Z, or 2h)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _group(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of polls: {text!r}") from None
    if not 1 <= value <= MAX_GROUP:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_GROUP}")
    return value


def _group_wait(text: str) -> float:
    try:
        seconds = parse_duration(text, zero=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds > MAX_GROUP_WAIT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_GROUP_WAIT:g}s")
    return seconds


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _subject_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a subject id: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("a subject id is a positive number")
    return value


def _state(text: str) -> KYCState:
    try:
        return KYCState(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in KYCState)
        raise argparse.ArgumentTypeError(f"unknown state {text!r} (one of {names})") from None


def add_parser(subparsers: Any) -> None:
    """Add the ``track`` command to ``subparsers`` (an argparse subparsers action)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///PATH, a path, or postgresql://... (default: env KYCBRIDGE_DB, "
        "else the file `track info` shows)",
    )
    p: argparse.ArgumentParser = subparsers.add_parser(
        "track",
        help="follow subjects to their outcome in a database",
        description="Track subjects: store them, poll them when due, keep their history.",
    )
    sub = p.add_subparsers(dest="track_command", metavar="ACTION")
    sub.required = True

    a = sub.add_parser("add", parents=[common], help="track a subject")
    a.add_argument("provider", help="provider name")
    a.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a query field (secret fields are not stored: give them in env at run time)",
    )
    a.add_argument("--json", action="store_true", help="print JSON on stdout")

    i = sub.add_parser("import", parents=[common], help="track every subject of a JSON lines file")
    i.add_argument("input", metavar="FILE", help="JSON lines of query fields ('-': stdin)")
    i.add_argument("--provider", required=True, help="provider name")
    i.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a field for every line (a line's own fields win)",
    )
    i.add_argument("--json", action="store_true", help="print JSON lines on stdout")

    ls = sub.add_parser("list", parents=[common], help="list tracked subjects")
    ls.add_argument("--state", type=_state, help="only subjects in this state")
    ls.add_argument("--provider", help="only this provider's subjects")
    ls.add_argument(
        "--stale", type=_duration, metavar="DURATION", help="only those not observed for this long"
    )
    ls.add_argument("--json", action="store_true", help="print JSON lines on stdout")

    h = sub.add_parser("history", parents=[common], help="a subject's recorded changes")
    h.add_argument("id", type=_subject_id, help="the subject's id")
    h.add_argument("--json", action="store_true", help="print JSON lines on stdout")

    e = sub.add_parser("export", parents=[common], help="every observation, for analysis")
    e.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    e.add_argument("--since", metavar="T", help="from this ISO 8601 time, or a duration ago")

    f = sub.add_parser("forget", parents=[common], help="erase a subject's personal data")
    f.add_argument("id", type=_subject_id, help="the subject's id")
    f.add_argument("--json", action="store_true", help="print JSON on stdout")

    r = sub.add_parser("run", parents=[common], help="poll due subjects until stopped")
    r.add_argument("--workers", type=int, default=4, help="worker threads (default 4)")
    r.add_argument("--once", action="store_true", help="stop when nothing is due any more")
    r.add_argument(
        "--limiter",
        metavar="URL",
        default=os.environ.get("KYCBRIDGE_LIMITER"),
        help="memory:// (default) or redis://HOST:PORT/DB?prefix=P, shared by every worker "
        "process (env KYCBRIDGE_LIMITER)",
    )
    r.add_argument(
        "--lease", type=_duration, default=300.0, metavar="DURATION", help="lease per claim"
    )
    r.add_argument(
        "--idle", type=_duration, default=5.0, metavar="DURATION", help="wait when nothing is due"
    )
    r.add_argument("--batch", type=int, default=10, help="subjects claimed at once per worker")
    r.add_argument(
        "--group",
        type=_group,
        default=GROUP,
        metavar="N",
        help=f"record up to N polls of a batch in one transaction (default {GROUP}; 1: each "
        "on its own); hooks fire when the group commits",
    )
    r.add_argument(
        "--group-wait",
        type=_group_wait,
        default=GROUP_WAIT,
        metavar="DURATION",
        help=f"write a group once its oldest answer has waited this long (default "
        f"{GROUP_WAIT:g}s; 0: each poll on its own)",
    )

    n = sub.add_parser("info", parents=[common], help="the database in use and its size")
    n.add_argument("--json", action="store_true", help="print JSON on stdout")


def _say(line: str, out: IO[str]) -> None:
    out.write(safe_text(line, ERROR_LINE_LIMIT) + "\n")


def _json(data: Any, out: IO[str]) -> None:
    out.write(json_line(data) + "\n")


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``kycbridge track ACTION``; return the exit code."""
    action = args.track_command
    try:
        if action == "info":
            return _info(args, out)
        store = open_store(args.db)
        try:
            return _ACTIONS[action](args, store, out, err)
        finally:
            store.close()
    except KYCBridgeError as exc:
        _say(f"kycbridge track {action}: {exc}", err)
        if getattr(args, "json", False):
            _json({"error": exc.to_dict()}, out)
        return exc.exit_code
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        _say("kycbridge: interrupted", err)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if getattr(args, "verbose", 0) + getattr(args, "verbose_sub", 0) >= 2:
            for text in traceback.format_exception(type(exc), exc, exc.__traceback__):
                for line in text.splitlines():
                    _say(line, err)
        _say(f"kycbridge: internal error: {type(exc).__name__} (a bug: please report it)", err)
        return EXIT_INTERNAL


def _info(args: argparse.Namespace, out: IO[str]) -> int:
    default = default_sqlite_path()
    url = args.db or os.environ.get("KYCBRIDGE_DB") or default
    store = open_store(url)
    try:
        data = {
            "database": store.url,
            "default_sqlite": default,
            "from": "--db"
            if args.db
            else ("KYCBRIDGE_DB" if os.environ.get("KYCBRIDGE_DB") else "default"),
            "schema_version": store.schema_version(),
            "subjects": store.count(),
        }
    finally:
        store.close()
    if args.json:
        _json(data, out)
    else:
        for key, value in data.items():
            _say(f"{key:<15} {value}", out)
    return EXIT_OK


def _add(args: argparse.Namespace, store: Store, out: IO[str], err: IO[str]) -> int:
    bridge = Bridge()
    subject = _add_one(bridge, store, args.provider, dict(args.params))
    if args.json:
        _json(subject.to_dict(), out)
    else:
        _say(f"tracking #{subject.id}: {subject.provider} {subject.subject_masked}", out)
    return EXIT_OK


def _add_one(bridge: Bridge, store: Store, provider: str, fields: dict[str, Any]) -> Any:
    query = bridge.query(provider, **fields)
    subject = bridge.provider(provider).subject(query)
    return store.add(provider, stored_fields(query), subject, now=time.time())


def _lines(stream: IO[str]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InvalidQuery(f"not JSON: {exc.msg}")


def _import(args: argparse.Namespace, store: Store, out: IO[str], err: IO[str]) -> int:
    bridge = Bridge()
    bridge.provider(args.provider)  # not installed: fail before reading
    defaults = dict(args.params)
    if args.input == "-":
        stream: IO[str] = sys.stdin
    else:
        try:
            stream = open(args.input, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InvalidQuery(f"cannot read {args.input}: {exc.strerror}") from None
    added = known = failed = 0
    try:
        for number, item in _lines(stream):
            result: dict[str, Any] = {"line": number}
            try:
                if isinstance(item, InvalidQuery):
                    raise item
                if not isinstance(item, dict):
                    raise InvalidQuery(f"not a JSON object (got {type(item).__name__})")
                subject = _add_one(bridge, store, args.provider, {**defaults, **item})
            except DuplicateSubject as exc:
                known += 1
                result["already_tracked"] = exc.existing
                text = f"line {number}: already tracked as #{exc.existing}"
            except InvalidQuery as exc:
                failed += 1
                result["error"] = exc.to_dict()
                text = f"line {number}: error: {exc}"
            else:
                added += 1
                result["id"] = subject.id
                text = f"line {number}: tracking #{subject.id} {subject.subject_masked}"
            if args.json:
                _json(result, out)
            else:
                _say(text, out)
    finally:
        if stream is not sys.stdin:
            stream.close()
    _say(f"summary: {added} added, {known} already tracked, {failed} failed", err)
    return EXIT_PARTIAL if failed else EXIT_OK


def _list(args: argparse.Namespace, store: Store, out: IO[str], err: IO[str]) -> int:
    before = None if args.stale is None else time.time() - args.stale
    subjects = store.subjects(state=args.state, provider=args.provider, observed_before=before)
    for s in subjects:
        if args.json:
            _json(s.to_dict(), out)
            continue
        state = s.state.value if s.state is not None else "(not observed yet)"
        extra = ""
        if s.blocklisted:
            extra += "  !! BLOCKLISTED"
        if s.last_error:
            extra += f"  last error: {s.last_error} x{s.failures}"
        seen = s.last_observed.isoformat(timespec="seconds") if s.last_observed else "never"
        _say(f"#{s.id:<6} {s.provider:<10} {s.subject_masked}  {state}  seen {seen}{extra}", out)
    if not args.json:
        _say(f"{len(subjects)} subject(s)", err)
    return EXIT_OK


def _history(args: argparse.Namespace, store: Store, out: IO[str], err: IO[str]) -> int:
    subject = store.get(args.id)
    if subject is None:
        _say(f"kycbridge track history: no subject #{args.id}", err)
        return EXIT_NOT_FOUND
    for o in store.history(args.id):
        if args.json:
            _json(o.to_dict(), out)
            continue
        old = o.old_state.value if o.old_state is not None else "-"
        flag = "  !! unexpected transition" if o.anomaly else ""
        _say(
            f"{o.at.isoformat(timespec='seconds')}  {o.source:<7} {old} -> {o.new_state.value}"
            f" (raw: {o.raw_status}){flag}",
            out,
        )
    return EXIT_OK


def _export(args: argparse.Namespace, store: Store, out: IO[str], err: IO[str]) -> int:
    since = None
    if args.since:
        try:
            since = parse_since(args.since, time.time())
        except ValueError as exc:
            raise InvalidQuery(str(exc)) from None
    if args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for o in store.observations(since=since):
            row = o.to_dict()
            # a cell starting with = + - @ would be a formula in a spreadsheet
            writer.writerow([_cell(row[c]) for c in EXPORT_COLUMNS])
    else:
        for o in store.observations(since=since):
            _json(o.to_dict(), out)
    return EXIT_OK


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = safe_text(str(value), ERROR_LINE_LIMIT)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _forget(args: argparse.Namespace, store: Store, out: IO[str], err: IO[str]) -> int:
    if not store.forget(args.id):
        _say(f"kycbridge track forget: no subject #{args.id}", err)
        return EXIT_NOT_FOUND
    if args.json:
        _json({"forgotten": args.id}, out)
    else:
        _say(f"forgot #{args.id}: personal data erased, anonymised history kept", out)
    return EXIT_OK


def _run(args: argparse.Namespace, store: Store, out: IO[str], err: IO[str]) -> int:
    if not 1 <= args.workers <= MAX_WORKERS:
        raise InvalidQuery(f"--workers must be between 1 and {MAX_WORKERS}")
    factory = limiter_factory(args.limiter)
    bridge = Bridge(limiter_factory=factory)
    if isinstance(factory, RedisLimiterFactory):
        factory.identity = lambda name: settings_fingerprint(bridge.settings(name))
    scheduler = Scheduler(
        store,
        bridge,
        policy=Policy(lease=args.lease),
        batch=max(1, args.batch),
        group=args.group,
        group_wait=args.group_wait,
    )
    stop = threading.Event()
    polled = [0]

    def work() -> None:
        polled[0] = scheduler.run(args.workers, once=args.once, stop_event=stop, idle=args.idle)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _say(
        f"kycbridge track run: {store.url}, {args.workers} worker(s), owner {scheduler.owner}", err
    )
    err.flush()
    thread = threading.Thread(target=work, name="kycbridge-track", daemon=True)
    thread.start()
    interrupted = False
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        thread.join()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        bridge.close()
    _say(f"kycbridge track run: {polled[0]} poll(s); stopped", err)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


_ACTIONS = {
    "add": _add,
    "import": _import,
    "list": _list,
    "history": _history,
    "export": _export,
    "forget": _forget,
    "run": _run,
}


def main(argv: list[str] | None = None) -> int:
    """``python -m kycbridge.tracking.cli ACTION ...``: the same as ``kycbridge track``."""
    parser = argparse.ArgumentParser(prog="kycbridge")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["track", *(sys.argv[1:] if argv is None else argv)])
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run(args, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
