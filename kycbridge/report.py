"""Reports: one observed status, immutable, with a lossless JSON form.

:class:`StatusReport` is what every call returns. :data:`converter` (cattrs) turns it into a
JSON-ready dict and back; :func:`report_to_dict` / :func:`report_from_dict` are the short way.
Provider details are typed attrs objects; to structure them back, pass the provider's details
type, or a mapping of them (:meth:`Bridge.report_from_dict <kycbridge.Bridge.report_from_dict>`
passes its own providers'). :data:`DETAILS_TYPES` is a process-wide fallback an app may fill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from typing import Any

import attrs
import cattrs

from .redact import mask
from .states import KYCState

__all__ = [
    "DETAILS_TYPES",
    "StatusReport",
    "converter",
    "report_from_dict",
    "report_to_dict",
    "utcnow",
]


_UTC = dt.timezone.utc


def utcnow() -> dt.datetime:
    """The current time, in UTC, timezone-aware."""
    return dt.datetime.now(_UTC)


def _to_utc(value: dt.datetime) -> dt.datetime:
    if type(value) is dt.datetime and value.tzinfo is _UTC:
        return value  # already what we keep (utcnow() gives these): nothing to convert
    if not isinstance(value, dt.datetime):
        raise TypeError(f"observed_at must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("observed_at must be timezone-aware")
    return value.astimezone(_UTC)


def _to_state(value: object) -> KYCState:
    return value if type(value) is KYCState else KYCState(value)


def _mask_repr(value: str | None) -> str:
    return repr(mask(value)) if value is not None else "None"


# slots=False: a frozen dict class is built by writing its __dict__, a frozen slotted one by
# one object.__setattr__ call per field; reports are made on every call (benchmarks/).
@attrs.frozen(kw_only=True, slots=False)
class StatusReport:
    """One status observed from one provider, normalized.

    ``final`` and ``approved`` are derived from ``state``. ``subject`` (an email, a wallet, an
    id) is masked in the repr; the raw payload is left out of it.
    """

    provider: str
    """The provider's registered name."""
    state: KYCState = attrs.field(converter=_to_state)
    """The normalized state."""
    raw_status: str | None
    """The provider's own status word(s), exactly as received (``None`` when absent)."""
    observed_at: dt.datetime = attrs.field(factory=utcnow, converter=_to_utc)
    """When the status was observed, in UTC."""
    subject: str | None = attrs.field(default=None, repr=_mask_repr)
    """Whom the status is about (email, wallet, workflow id). Masked in repr."""
    details: Any = None
    """Provider-specific details, a typed attrs object of the provider's ``details_type``."""
    blocklisted: bool = False
    """The provider raised a blocklist / risk flag on this subject, whatever the state."""
    anomaly: bool = False
    """This observation was an unexpected transition from the previous one."""
    raw: Any = attrs.field(default=None, repr=False)
    """The provider's JSON payload, as decoded."""

    @property
    def final(self) -> bool:
        """Whether verification reached an outcome."""
        return self.state.final

    @property
    def approved(self) -> bool:
        """Whether the outcome is an approval."""
        return self.state is KYCState.APPROVED


DETAILS_TYPES: MutableMapping[str, type[Any]] = {}
"""Provider name -> details type: the fallback :func:`report_from_dict` uses when given no
details type. Empty unless the app fills it (plugins no longer write here: each bridge's
providers are its own, see :meth:`kycbridge.Bridge.report_from_dict`)."""


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_iso(value: Any, _: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    text = str(value)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


converter = cattrs.Converter()
"""The converter for reports and details (JSON-ready dicts)."""
converter.register_unstructure_hook(dt.datetime, _iso)
converter.register_structure_hook(dt.datetime, _parse_iso)


def _unstructure_report(report: StatusReport) -> dict[str, Any]:
    details = report.details
    return {
        "provider": report.provider,
        "state": report.state.value,
        "raw_status": report.raw_status,
        "final": report.final,
        "approved": report.approved,
        "observed_at": _iso(report.observed_at),
        "subject": report.subject,
        "blocklisted": report.blocklisted,
        "anomaly": report.anomaly,
        "details": None if details is None else converter.unstructure(details),
        "raw": report.raw,
    }


converter.register_unstructure_hook(StatusReport, _unstructure_report)
converter.register_structure_hook(StatusReport, lambda data, _: report_from_dict(data))


def report_to_dict(report: StatusReport) -> dict[str, Any]:
    """The JSON form of a report: keys in a stable order, times as ISO 8601 with ``Z``."""
    result: dict[str, Any] = converter.unstructure(report, StatusReport)
    return result


def report_from_dict(
    data: dict[str, Any],
    *,
    details_type: type[Any] | None = None,
    details_types: Mapping[str, type[Any]] | None = None,
) -> StatusReport:
    """Rebuild a report from its JSON form.

    ``details`` is structured as ``details_type``, else as the report's provider's type in
    ``details_types`` (a registry's, by provider name), else in :data:`DETAILS_TYPES`, else
    kept as the plain value.
    """
    if not isinstance(data, dict):
        raise TypeError("a report's JSON form is an object")
    try:
        provider = str(data["provider"])
        state = KYCState(data["state"])
        cls = details_type
        if cls is None and details_types is not None:
            cls = details_types.get(provider)
        if cls is None:
            cls = DETAILS_TYPES.get(provider)
        details = data.get("details")
        if cls is not None and details is not None:
            details = converter.structure(details, cls)
        return StatusReport(
            provider=provider,
            state=state,
            raw_status=data.get("raw_status"),
            observed_at=_parse_iso(data["observed_at"], None),
            subject=data.get("subject"),
            details=details,
            blocklisted=bool(data.get("blocklisted", False)),
            anomaly=bool(data.get("anomaly", False)),
            raw=data.get("raw"),
        )
    except KeyError as exc:
        raise ValueError(f"report JSON lacks the key {exc.args[0]!r}") from None
