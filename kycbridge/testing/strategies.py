"""Hypothesis strategies for testing kycbridge providers (needs ``kycbridge[testing]``).

Every strategy here is public and stable; use them in a plugin's own property tests::

    from hypothesis import given
    from kycbridge.testing import strategies as kst

    @given(kst.raw_words(STATUS_MAP))
    def test_mangled_words_map_like_the_documented_ones(word):
        assert my_provider.normalize(word) is STATUS_MAP(word)

:func:`states`
    any :class:`~kycbridge.KYCState`.
:func:`raw_words`
    documented status words mangled in case, spacing and separators, and arbitrary text.
:func:`mangled`
    one word, mangled the way :func:`raw_words` does it.
:func:`json_values`
    any JSON value (what ``json.loads`` can return, without NaN and infinities).
:func:`payloads`
    JSON objects, optionally shaped around given keys.
:func:`reports`
    :class:`~kycbridge.StatusReport` values whose JSON form round-trips.
:func:`queries`
    valid instances of a provider's query class.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from hypothesis import assume
from hypothesis import strategies as st

from kycbridge.mapping import StatusMap
from kycbridge.provider import KYCStatusProvider
from kycbridge.report import StatusReport
from kycbridge.states import KYCState

__all__ = [
    "json_values",
    "mangled",
    "payloads",
    "queries",
    "raw_words",
    "reports",
    "states",
]

_PARTS = re.compile(r"[\s_\-]+")
_SEPARATORS = (" ", "_", "-", "  ", "\t", "__", " - ", "_-")
_PADDING = ("", " ", "  ", "\t", "\n", " \t ", "\r\n")

MIN_TIME = dt.datetime(2000, 1, 1)
"""Earliest ``observed_at`` :func:`reports` draws (naive; made UTC)."""
MAX_TIME = dt.datetime(2100, 1, 1)
"""Latest ``observed_at`` :func:`reports` draws (naive; made UTC)."""


def states() -> st.SearchStrategy[KYCState]:
    """Any :class:`~kycbridge.KYCState`, shrinking towards ``not_started``."""
    return st.sampled_from(list(KYCState))


def _recase(text: str, flips: list[bool]) -> str:
    # Only ASCII letters change case: casefold(upper(c)) == casefold(c) holds for them.
    return "".join(
        (c.swapcase() if flip and c.isascii() else c) for c, flip in zip(text, flips, strict=True)
    )


@st.composite
def _mangle(draw: st.DrawFn, word: str) -> str:
    parts = [p for p in _PARTS.split(word.strip()) if p] or [word]
    out = parts[0]
    for part in parts[1:]:
        out += draw(st.sampled_from(_SEPARATORS)) + part
    flips = draw(st.lists(st.booleans(), min_size=len(out), max_size=len(out)))
    out = _recase(out, flips)
    return draw(st.sampled_from(_PADDING)) + out + draw(st.sampled_from(_PADDING))


def mangled(word: str) -> st.SearchStrategy[str]:
    """``word`` with its case, surrounding whitespace and inner separators scrambled.

    ``"NOT_SUBMITTED"`` may come out as ``" not-Submitted "`` or ``"Not  submitted"``.
    Every result folds to the same key as ``word`` under
    :func:`kycbridge.mapping.canonical_word`, so a :class:`~kycbridge.StatusMap` maps it
    like ``word``. The unchanged word is the simplest example.
    """
    return _mangle(word)


def raw_words(status_map: StatusMap | Iterable[str] | None = None) -> st.SearchStrategy[str]:
    """Raw status words: documented ones mangled by :func:`mangled`, and arbitrary text.

    ``status_map``: a :class:`~kycbridge.StatusMap` (its documented words) or any iterable of
    words; ``None`` uses the :class:`~kycbridge.KYCState` values (``"in_review"``...).
    About half the examples are mangled documented words; the rest are any text, including
    the empty string, whitespace and undocumented words.
    """
    source: Iterable[object] = status_map if status_map is not None else [s.value for s in KYCState]
    words = sorted({str(word) for word in source})
    anything = st.text(max_size=40)
    if not words:
        return anything
    documented = st.sampled_from(words).flatmap(mangled)
    return st.one_of(documented, anything)


def json_values(*, max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value: ``None``, booleans, integers, finite floats, strings, lists, objects.

    Nested up to about ``max_leaves`` scalars. No NaN or infinities (not JSON), so every
    value survives ``json.loads(json.dumps(value)) == value``.
    """
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.text(max_size=15), children, max_size=5),
        ),
        max_leaves=max_leaves,
    )


def payloads(
    shape: Mapping[str, st.SearchStrategy[Any]] | Iterable[str] = (),
    *,
    required: bool = False,
    extra: bool = True,
) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects, optionally shaped around given keys.

    ``shape``: keys the objects may carry, either as an iterable of names (values from
    :func:`json_values`) or as a mapping of name to strategy (nest ``payloads`` for nested
    objects). Each shaped key is present or absent at random, or always present with
    ``required=True``. ``extra``: also add arbitrary other keys. With no shape, any JSON
    object::

        payloads({"data": payloads({"status": raw_words(STATUS_MAP), "kycType": json_values()})})
    """
    if isinstance(shape, Mapping):
        fields: dict[str, st.SearchStrategy[Any]] = dict(shape)
    else:
        fields = {str(key): json_values() for key in shape}
    if required:
        shaped = st.fixed_dictionaries(fields)
    else:
        shaped = st.fixed_dictionaries({}, optional=fields)
    if not extra:
        return shaped
    others = st.dictionaries(
        st.text(max_size=15).filter(lambda k: k not in fields), json_values(), max_size=4
    )
    return st.builds(lambda a, b: {**b, **a}, shaped, others)


def _details_for(provider: KYCStatusProvider | None) -> st.SearchStrategy[Any]:
    details_type = getattr(provider, "details_type", None)
    if details_type is None or not attrs.has(details_type):
        return st.none()
    attrs.resolve_types(details_type)
    return st.none() | st.builds(details_type)


def reports(
    provider: KYCStatusProvider | str | None = None,
    *,
    details: st.SearchStrategy[Any] | None = None,
    state: st.SearchStrategy[KYCState] | None = None,
    raw: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[StatusReport]:
    """:class:`~kycbridge.StatusReport` values whose JSON form round-trips exactly.

    ``provider``: a provider (its name, and its ``details_type`` for details) or a name;
    ``None`` draws lowercase names. ``details``: a strategy for ``details`` (default: ``None``
    or ``st.builds(provider.details_type)``; pass your own when the details class needs
    values ``builds`` cannot infer). ``state`` and ``raw`` default to :func:`states` and
    :func:`json_values`. ``observed_at`` is timezone-aware UTC between :data:`MIN_TIME` and
    :data:`MAX_TIME`, with microseconds, so
    ``report_from_dict(json.loads(json.dumps(report_to_dict(r))), details_type=...) == r``.
    """
    if isinstance(provider, str):
        names: st.SearchStrategy[str] = st.just(provider)
        provider_obj: KYCStatusProvider | None = None
    elif provider is not None:
        names = st.just(provider.name)
        provider_obj = provider
    else:
        names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
        provider_obj = None
    return st.builds(
        StatusReport,
        provider=names,
        state=state if state is not None else states(),
        raw_status=st.none() | st.text(max_size=30),
        observed_at=st.datetimes(MIN_TIME, MAX_TIME, timezones=st.just(dt.timezone.utc)),
        subject=st.none() | st.text(max_size=40),
        details=details if details is not None else _details_for(provider_obj),
        blocklisted=st.booleans(),
        anomaly=st.booleans(),
        raw=raw if raw is not None else json_values(),
    )


@st.composite
def _valid(draw: st.DrawFn, query_type: type[Any], fields: Mapping[str, Any]) -> Any:
    try:
        return draw(st.builds(query_type, **fields))
    except (TypeError, ValueError):
        assume(False)  # the validators refused the drawn values: try others
        return None


def queries(
    query_type: type[Any] | KYCStatusProvider, **fields: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Valid instances of a query class (or of a provider's ``query_type``).

    ``fields``: a strategy per field; the others are inferred from their type annotations
    by :func:`hypothesis.strategies.builds` (fields with a default may be left out by it).
    Drawn values the class's validators refuse are rejected, so give a strategy for every
    field with a strict validator (an email, a token format) or Hypothesis will report that
    it filters too much::

        queries(MyProvider(), email=st.emails(), token=st.just("sandbox-token"))
    """
    cls = query_type if isinstance(query_type, type) else query_type.query_type
    if attrs.has(cls):
        attrs.resolve_types(cls)
    return _valid(cls, fields)
