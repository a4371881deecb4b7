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

The ``kycbridge status --input FILE`` command is :mod:`kycbridge.cli.status`.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import attrs

from .bridge import Bridge
from .errors import InvalidQuery, KYCBridgeError
from .report import StatusReport
from .transport import Transport

__all__ = ["MAX_WORKERS", "BulkResult", "bulk_status", "transport_for"]

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


def transport_for(transport: Transport, workers: int) -> Transport:
    """``transport``, or a copy with a pool of ``workers`` connections per host if it is smaller.

    The copy (:meth:`Transport.evolve <kycbridge.transport.Transport.evolve>` with
    ``maxsize``) shares timeouts, retries, the size cap and the request counter. Only a plain
    :class:`urllib3.PoolManager` is re-made (an app's proxy manager is kept as is; its
    connections beyond ``maxsize`` are then opened and discarded, with a urllib3 warning).
    """
    size = transport.maxsize
    if size is None or size >= workers:
        return transport
    try:
        return transport.evolve(maxsize=workers)
    except ValueError:  # the app's own pool manager (a proxy, a subclass): not re-made
        log.warning("connection pool holds %d connections for %d workers", size, workers)
        return transport


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
