"""Checking many subjects of one provider at once: :func:`bulk_status`.

>>> queries = [{"email": "a@example.com"}, {"email": "b@example.com"}]  # doctest: +SKIP
>>> for result in bulk_status(bridge, "starkfi", queries, workers=8):   # doctest: +SKIP
...     print(result.index, result.report or result.error)

Queries are checked by a bounded pool of worker threads over the bridge's transport, and
results come back as they complete. At most ``2 * workers`` queries are in flight, so a
10,000-line input is read as it is consumed, not queued at once. One failure never stops the
rest: each item ends in a report or in a :class:`~kycbridge.errors.KYCBridgeError`. The
provider's rate limit holds across workers because every call goes through the bridge's
shared limiter.

Also here: :func:`run_bulk_cli`, the ``kycbridge status --input FILE`` command.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

import attrs
import urllib3

from .bridge import Bridge
from .errors import InvalidQuery, KYCBridgeError
from .report import StatusReport, report_to_dict
from .terminal import ERROR_LINE_LIMIT, json_line, safe_text
from .transport import Transport

__all__ = ["MAX_WORKERS", "BulkResult", "bulk_status", "run_bulk_cli"]

log = logging.getLogger("kycbridge.bulk")

MAX_WORKERS = 256
"""Most workers :func:`bulk_status` accepts."""


@attrs.frozen
class BulkResult:
    """One item's outcome: a report or an error (exactly one is set)."""

    index: int
    """The item's 0-based position in the input, or the index passed with it."""
    query: Any = attrs.field(repr=False)
    """The query fields as given (left out of the repr: they hold personal data)."""
    report: StatusReport | None = None
    error: KYCBridgeError | None = None

    @property
    def ok(self) -> bool:
        """Whether a report came back."""
        return self.report is not None


def _pool_size(transport: Transport) -> int | None:
    kw = getattr(transport.pool, "connection_pool_kw", None)
    size = kw.get("maxsize") if isinstance(kw, dict) else None
    return size if isinstance(size, int) else None


def transport_for(transport: Transport, workers: int) -> Transport:
    """``transport``, or a copy with a pool of ``workers`` connections per host if it is smaller.

    The copy shares timeouts, retries and the size cap. Only a plain
    :class:`urllib3.PoolManager` is re-made (an app's proxy manager is kept as is; its
    connections beyond ``maxsize`` are then opened and discarded, with a urllib3 warning).
    """
    size = _pool_size(transport)
    if size is None or size >= workers:
        return transport
    pool = transport.pool
    if type(pool) is not urllib3.PoolManager:
        log.warning("connection pool holds %d connections for %d workers", size, workers)
        return transport
    clone = copy.copy(transport)
    bigger = urllib3.PoolManager(
        num_pools=16, headers=pool.headers, **{**pool.connection_pool_kw, "maxsize": workers}
    )
    bigger.pool_classes_by_scheme = pool.pool_classes_by_scheme  # the transport's own kind
    clone.pool = bigger
    return clone


def _items(queries: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    for position, item in enumerate(queries):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int):
            yield item[0], item[1]
        else:
            yield position, item


def bulk_status(
    bridge: Bridge,
    provider: str,
    queries: Iterable[Mapping[str, Any] | tuple[int, Any]],
    *,
    workers: int = 8,
    settings: Any = None,
    defaults: Mapping[str, Any] | None = None,
    transport: Transport | None = None,
) -> Generator[BulkResult, None, None]:
    """Check every query's subject with ``provider``; yield results as they complete.

    Each item of ``queries`` is a mapping of query fields (its index is its position) or an
    ``(index, fields)`` pair (a line number, say). ``defaults`` are fields merged under each
    item's own. An item that is not a mapping, or whose fields are invalid, gives an
    :class:`~kycbridge.errors.InvalidQuery` result and sends nothing; an
    :class:`~kycbridge.errors.InvalidQuery` instance given in place of the fields is used as
    that item's error. Provider and settings problems (not installed, invalid settings) and a
    bad ``workers`` raise at once, when this function is called. ``transport`` defaults to
    the bridge's; either way it gets a pool of at least ``workers`` connections per host
    (see :func:`transport_for`). Exceptions that are not :class:`KYCBridgeError` (bugs, a
    plain ``http://`` URL to a remote host) propagate.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidQuery(f"workers must be between 1 and {MAX_WORKERS}")
    bridge.provider(provider)
    if settings is None:
        settings = bridge.settings(provider)
    given = transport or bridge.transport
    used = transport_for(given, workers)
    return _run(
        bridge,
        provider,
        _items(queries),
        workers=workers,
        settings=settings,
        defaults=dict(defaults or {}),
        transport=used,
        own_pool=used is not given,
    )


def _run(
    bridge: Bridge,
    provider: str,
    items: Iterator[tuple[int, Any]],
    *,
    workers: int,
    settings: Any,
    defaults: dict[str, Any],
    transport: Transport,
    own_pool: bool,
) -> Generator[BulkResult, None, None]:
    def check(index: int, item: Any, query: Any) -> BulkResult:
        try:
            report = bridge.fetch(provider, query, settings=settings, transport=transport)
        except KYCBridgeError as exc:
            return BulkResult(index, item, error=exc)
        return BulkResult(index, item, report=report)

    # Finished futures arrive through a queue their done-callback fills: taking the next one
    # costs O(1), where wait(FIRST_COMPLETED) would hook a waiter into every pending future.
    limit = 2 * workers
    pending: set[Future[BulkResult]] = set()
    finished: queue.SimpleQueue[Future[BulkResult]] = queue.SimpleQueue()

    def next_result() -> BulkResult:
        future = finished.get()
        pending.discard(future)
        return future.result()

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kycbridge-bulk")
    try:
        for index, item in items:
            if isinstance(item, InvalidQuery):
                yield BulkResult(index, None, error=item)
                continue
            if not isinstance(item, Mapping) or not all(isinstance(k, str) for k in item):
                error = InvalidQuery(
                    f"query is not an object of fields (got {type(item).__name__})",
                    provider=provider,
                )
                yield BulkResult(index, item, error=error)
                continue
            try:
                query = bridge.query(provider, **{**defaults, **item})
            except InvalidQuery as exc:
                yield BulkResult(index, item, error=exc)
                continue
            future = pool.submit(check, index, item, query)
            pending.add(future)
            future.add_done_callback(finished.put)
            while len(pending) >= limit:
                yield next_result()
        while pending:
            yield next_result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if own_pool:
            transport.pool.clear()


# -- the command ---------------------------------------------------------------------------
def _read_lines(stream: IO[str], provider: str) -> Iterator[tuple[int, Any]]:
    """``(line number, fields or InvalidQuery)`` for each non-blank line of JSON lines."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InvalidQuery(f"not JSON: {exc.msg}", provider=provider)
            continue
        if not isinstance(value, dict):
            yield (
                number,
                InvalidQuery(
                    f"not a JSON object (got {type(value).__name__})",
                    provider=provider,
                ),
            )
            continue
        yield number, value


def _count_lines(path: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()

    def add(self, result: BulkResult) -> None:
        with self.lock:
            if result.report is not None:
                self.states[result.report.state.value] += 1
            elif result.error is not None:
                self.errors[result.error.kind] += 1

    @property
    def done(self) -> int:
        return sum(self.states.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> str:
        with self.lock:
            ok, failed = self.done - self.failed, self.failed
            parts = [
                f"{_plural(self.done, 'line')}: {_plural(ok, 'report')}, {_plural(failed, 'error')}"
            ]
            if self.states:
                parts.append(
                    "states: " + ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()))
                )
            if self.errors:
                parts.append(
                    "errors: " + ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items()))
                )
        return "summary: " + "; ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _bar(done: int, total: int | None, width: int = 30) -> str:
    if not total:
        return f"checked {done} lines"
    filled = min(width, width * done // total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def run_bulk_cli(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge status PROVIDER --input FILE``: one output line per input line.

    Exit 0 when every line got a report, 9 when some failed (their errors are printed).
    """
    from .cli import EXIT_OK, EXIT_PARTIAL, _settings_overrides, describe
    from .watch import LiveLine

    if not 1 <= args.workers <= MAX_WORKERS:
        raise InvalidQuery(f"--workers must be between 1 and {MAX_WORKERS}")
    settings = bridge.settings(args.provider, **_settings_overrides(args))
    if args.input == "-":
        stream: IO[str] = sys.stdin
        total = None
    else:
        try:
            stream = open(args.input, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InvalidQuery(f"cannot read --input {args.input}: {exc.strerror}") from None
        total = _count_lines(args.input) if os.path.isfile(args.input) else None
    tally = _Tally()
    interrupted = False
    try:
        with LiveLine(err, lambda: _bar(tally.done, total)) as live:
            results = bulk_status(
                bridge,
                args.provider,
                _read_lines(stream, args.provider),
                workers=args.workers,
                settings=settings,
                defaults=dict(args.params),
            )
            try:
                for result in results:
                    tally.add(result)
                    live.print(_format(result, args.json, describe), out)
            except KeyboardInterrupt:
                interrupted = True
                results.close()  # cancel what is queued; requests in flight finish
    finally:
        if stream is not sys.stdin:
            stream.close()
    (err if args.json else out).write(safe_text(tally.summary()) + "\n")
    if interrupted:
        err.write("kycbridge: interrupted\n")
        return 130
    return EXIT_PARTIAL if tally.failed else EXIT_OK


def _format(result: BulkResult, as_json: bool, describe: Callable[[StatusReport], str]) -> str:
    if as_json:
        data: dict[str, Any] = {"line": result.index}
        if result.report is not None:
            data["report"] = report_to_dict(result.report)
        elif result.error is not None:
            data["error"] = result.error.to_dict()
        return json_line(data)
    if result.report is not None:
        return f"line {result.index}: {describe(result.report)}"
    return safe_text(f"line {result.index}: error: {result.error}", ERROR_LINE_LIMIT)
