"""Mapping tables from a provider's raw status words to :class:`~kycbridge.KYCState`.

A :class:`StatusMap` is data (docs print its rows) and a total, pure function: any input,
including ``None``, odd case, stray whitespace or a word nobody documented, gives a state.
Unknown words give :attr:`KYCState.UNKNOWN`; the caller keeps the raw word on the report.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import attrs

from .states import KYCState

__all__ = ["StatusMap", "canonical_word"]

_SEPARATORS = re.compile(r"[\s_\-]+")


def canonical_word(raw: object) -> str:
    """Fold a raw status word for lookup: strip, casefold, one space between parts.

    ``"NOT_SUBMITTED"``, ``" not submitted "`` and ``"Not-Submitted"`` all fold to
    ``"not submitted"``. Anything that is not a string folds to ``""`` (booleans and numbers are
    not status words).
    """
    if not isinstance(raw, str):
        return ""
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
