"""Mapping tables from a provider's raw status words to :class:`~kycbridge.KYCState`.

A :class:`StatusMap` is data (docs print its rows) and a total, pure function: any input,
including ``None``, odd case, stray whitespace or a word nobody documented, gives a state.
Unknown words give :attr:`KYCState.UNKNOWN`; the caller keeps the raw word on the report.

A :class:`CompositeStatusMap` does the same for answers whose state depends on several fields
(a review status, an answer and a reject type): rows keyed by one value per field, with
:data:`ANY` as a wildcard, the most specific matching row winning.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final

import attrs

from .states import KYCState

__all__ = ["ANY", "CompositeStatusMap", "StatusMap", "canonical_word"]

_SEPARATORS = re.compile(r"[\s_\-]+")


def canonical_word(raw: object) -> str:
    """Fold a raw status word for lookup: strip, casefold, one space between parts.

    ``"NOT_SUBMITTED"``, ``" not submitted "`` and ``"Not-Submitted"`` all fold to
    ``"not submitted"``. Anything that is not a string folds to ``""`` (booleans and numbers are
    not status words).
    """
    if not isinstance(raw, str):
        return ""
    if raw.isascii() and raw.isalpha() and raw.islower():
        return raw  # "approved": already folded (no space, no separator, no capital)
    return _SEPARATORS.sub(" ", raw.strip().casefold()).strip()


def _freeze(table: Mapping[str, KYCState]) -> Mapping[str, KYCState]:
    return {word: KYCState(state) for word, state in table.items()}


@attrs.frozen
class StatusMap(Mapping[str, KYCState]):
    """A provider's documented words and the state each maps to.

    Keys are kept as the provider spells them (for docs); lookups fold case, whitespace,
    underscores and hyphens, so ``map["  submitted"]`` finds ``"SUBMITTED"``.
    """

    table: Mapping[str, KYCState] = attrs.field(converter=_freeze)
    """The documented words, spelled as the provider does, and their states."""
    default: KYCState = KYCState.UNKNOWN
    """The state for any word not in the table."""
    _folded: Mapping[str, KYCState] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        folded: dict[str, KYCState] = {}
        for word, state in self.table.items():
            key = canonical_word(word)
            if key in folded and folded[key] is not state:
                raise ValueError(f"status words fold to the same key {key!r} with two states")
            folded[key] = state
        object.__setattr__(self, "_folded", folded)

    def __call__(self, raw: object) -> KYCState:
        """Normalize one raw word; never raises."""
        if type(raw) is str:
            state = self.table.get(raw)  # spelled exactly as documented: no folding needed
            if state is not None:
                return state
        return self._folded.get(canonical_word(raw), self.default)

    def knows(self, raw: object) -> bool:
        """Whether ``raw`` is one of the documented words (after folding)."""
        return canonical_word(raw) in self._folded

    def __getitem__(self, raw: str) -> KYCState:
        return self(raw)

    def __contains__(self, raw: object) -> bool:
        return self.knows(raw)

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def rows(self) -> list[tuple[str, KYCState]]:
        """The table as ``(word, state)`` rows, in documented order, for docs and CLI."""
        return list(self.table.items())


class _Any:
    """The type of :data:`ANY`."""

    _instance: _Any | None = None

    def __new__(cls) -> _Any:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"

    def __reduce__(self) -> str:
        return "ANY"


ANY: Final = _Any()
"""A :class:`CompositeStatusMap` cell matching any value of its field, absent included."""

Cell = str | bool | _Any
"""One cell of a composite row: a word (folded like :func:`canonical_word`), a JSON boolean
(matched exactly: ``"true"`` and ``1`` are not ``True``), or :data:`ANY`."""

_ABSENT = object()


def _fold(value: object) -> object:
    """A field's value as rows compare it: a folded word, a boolean, or absent."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = canonical_word(value)
        return word if word else _ABSENT
    return _ABSENT


def _fold_cell(cell: object) -> object:
    if cell is ANY or isinstance(cell, bool):
        return cell
    if isinstance(cell, str) and canonical_word(cell):
        return canonical_word(cell)
    raise ValueError(f"a composite row cell must be a non-blank word, a bool or ANY: {cell!r}")


def _field_names(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _freeze_rows(
    rows: Mapping[tuple[Cell, ...], KYCState],
) -> Mapping[tuple[Cell, ...], KYCState]:
    return {tuple(key): KYCState(state) for key, state in rows.items()}


@attrs.frozen
class CompositeStatusMap:
    """A state table keyed by several fields of a provider's answer.

    ``fields`` names the fields (keys of the answer, or dotted paths into nested objects);
    each row gives one cell per field: a word, a JSON boolean, or :data:`ANY`. A lookup
    keeps the rows whose every cell matches (words after folding case, whitespace, ``_`` and
    ``-``; a missing, ``null`` or non-string value matches only :data:`ANY`) and takes the
    **most specific** one: the most fixed cells, then, between rows fixing as many, the one
    whose first fixed cell comes earliest in ``fields``. Two distinct rows can never tie, so
    the result is deterministic; no matching row gives :attr:`default`. Never raises.

    >>> m = CompositeStatusMap(
    ...     fields=("reviewStatus", "reviewAnswer"),
    ...     rows={("completed", "GREEN"): KYCState.APPROVED,
    ...           ("completed", ANY): KYCState.REJECTED,
    ...           ("pending", ANY): KYCState.IN_REVIEW},
    ... )
    >>> m({"reviewStatus": "COMPLETED", "reviewAnswer": "green"})
    <KYCState.APPROVED: 'approved'>
    >>> m.raw_status({"reviewStatus": "completed", "reviewAnswer": "RED"})
    'completed/RED'
    """

    fields: tuple[str, ...] = attrs.field(converter=_field_names)
    """The field names (or dotted paths), in the order of each row's cells."""
    _rows: Mapping[tuple[Cell, ...], KYCState] = attrs.field(converter=_freeze_rows)
    """The documented rows, as written, and their states."""
    default: KYCState = KYCState.UNKNOWN
    """The state when no row matches."""
    _index: Sequence[tuple[tuple[object, ...], KYCState]] = attrs.field(
        init=False, repr=False, eq=False
    )
    _shapes: Sequence[tuple[Callable[[tuple[object, ...]], object], Mapping[object, KYCState]]] = (
        attrs.field(init=False, repr=False, eq=False)
    )
    """The rows grouped by which cells are fixed, most specific group first: per group, a
    getter of the fixed cells' values and a dict from those values to the row's state."""
    _paths: Sequence[tuple[str, ...]] = attrs.field(init=False, repr=False, eq=False)
    """Each field's path, split at its dots once."""
    _words: Mapping[str, str] = attrs.field(init=False, repr=False, eq=False)
    """Each word cell as written and in its usual spellings (folded, upper case, title
    case; spaces, ``_`` or ``-``), to its folded form: found without folding."""

    def __attrs_post_init__(self) -> None:
        if not self.fields:
            raise ValueError("a composite status map needs at least one field")
        width = len(self.fields)
        seen: dict[tuple[object, ...], KYCState] = {}
        for key, state in self._rows.items():
            if len(key) != width:
                raise ValueError(f"row {key!r} has {len(key)} cells for {width} fields")
            folded = tuple(_fold_cell(cell) for cell in key)
            if folded in seen and seen[folded] is not state:
                raise ValueError(f"rows fold to the same key {folded!r} with two states")
            seen[folded] = state
        # Most specific first: most fixed cells, then the earliest fixed cell first.
        index = sorted(
            seen.items(),
            key=lambda item: (
                -sum(cell is not ANY for cell in item[0]),
                tuple(cell is ANY for cell in item[0]),
            ),
        )
        object.__setattr__(self, "_index", tuple(index))
        # The same order, grouped by which cells are fixed. Within a group at most one row
        # can match (two rows fixing the same cells differ in one of them), so the first
        # group holding the values of its fixed cells gives the row the scan above would.
        shapes: dict[tuple[int, ...], dict[object, KYCState]] = {}
        words: dict[str, str] = {}
        for folded_row, row_state in index:
            fixed = tuple(i for i, cell in enumerate(folded_row) if cell is not ANY)
            shapes.setdefault(fixed, {})[_getter(fixed)(folded_row)] = row_state
        for written in self._rows:
            for cell in written:
                if isinstance(cell, str):
                    for spelling in _spellings(cell):
                        words[spelling] = canonical_word(cell)
        object.__setattr__(
            self, "_shapes", tuple((_getter(fixed), rows) for fixed, rows in shapes.items())
        )
        object.__setattr__(self, "_words", words)
        object.__setattr__(self, "_paths", tuple(tuple(f.split(".")) for f in self.fields))

    def values(self, raw: object) -> tuple[object, ...]:
        """The fields' values in ``raw``, ``None`` for each one absent.

        ``raw`` is a mapping (read by field name or dotted path) or a tuple of one value per
        field; anything else gives absent values.
        """
        if type(raw) is tuple and len(raw) == len(self.fields):
            return raw  # one value per field, as lookup() and raw_status() are given them
        try:
            if type(raw) is dict or isinstance(raw, Mapping):
                return tuple([_read(raw, path) for path in self._paths])
            if isinstance(raw, tuple) and len(raw) == len(self.fields):
                return tuple(raw)
        except Exception:  # a Mapping whose get() misbehaves: absent
            return (None,) * len(self.fields)
        return (None,) * len(self.fields)

    def lookup(self, *values: object) -> KYCState:
        """The state of one value per field (positional). Never raises."""
        if len(values) != len(self.fields):
            return self.default
        words = self._words
        folded = []
        for value in values:
            word = words.get(value) if type(value) is str else None  # a known spelling
            folded.append(word if word is not None else _fold(value))
        key = tuple(folded)
        for fixed, rows in self._shapes:
            state = rows.get(fixed(key))
            if state is not None:
                return state
        return self.default

    def __call__(self, raw: object) -> KYCState:
        """The state of an answer (see :meth:`values`). Total and pure: never raises."""
        return self.lookup(*self.values(raw))

    def raw_status(self, raw: object) -> str | None:
        """The documented ``raw_status`` form of an answer: the provider's own words.

        Each present field's value as received (strings as sent, booleans as ``true`` or
        ``false``), joined by ``/`` in field order; absent, ``null``, blank or other values are
        left out. ``None`` when no field is present: ``"completed/RED/RETRY"``.
        """
        words = []
        for value in self.values(raw):
            if isinstance(value, bool):
                words.append("true" if value else "false")
            elif isinstance(value, str) and value.strip():
                words.append(value)
        return "/".join(words) if words else None

    def rows(self) -> list[tuple[tuple[Cell, ...], KYCState]]:
        """The rows as ``(cells, state)``, in documented order, for docs and the CLI."""
        return list(self._rows.items())

    def __len__(self) -> int:
        return len(self._rows)


def _spellings(word: str) -> set[str]:
    """``word`` as written, and the usual spellings of its folded form, each folding to it."""
    folded = canonical_word(word)
    spellings = {word}
    for cased in (folded, folded.upper(), folded.title(), folded.capitalize()):
        for separator in (" ", "_", "-"):
            spellings.add(cased.replace(" ", separator))
    return {s for s in spellings if canonical_word(s) == folded}


def _getter(fixed: tuple[int, ...]) -> Callable[[tuple[object, ...]], object]:
    """The values at positions ``fixed`` of a row or of folded values, as one dict key."""
    if not fixed:
        return _no_cells
    return operator.itemgetter(*fixed)


def _no_cells(values: tuple[object, ...]) -> object:
    return ()


def _read(raw: Mapping[object, object], path: tuple[str, ...]) -> object:
    value: object = raw
    for key in path:
        if type(value) is not dict and not isinstance(value, Mapping):  # dict: no ABC check
            return None
        value = value.get(key)
    return value
