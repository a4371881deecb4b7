"""The mapping table: Transak's status words and the kycbridge state each one means.

The id-proof endpoint documents two words: ``NOT_SUBMITTED`` until the user submits the
Onfido document step, then ``SUBMITTED``. ``SUBMITTED`` means the *document step is done*,
not that KYC is approved. The user-level KYC words of Transak's other endpoints
(``APPROVED``, ``REJECTED``, ``ADDITIONAL_FORMS_REQUIRED``) are mapped too, so an answer
carrying one of them is understood. Any other word gives ``unknown``; the report keeps the
word as received in ``raw_status``.

Lookups fold case, spaces, underscores and hyphens (``" submitted "`` is ``SUBMITTED``).
"""

from __future__ import annotations

from kycbridge import KYCState, StatusMap

__all__ = ["STATUS_MAP"]

STATUS_MAP = StatusMap(
    {
        "NOT_SUBMITTED": KYCState.NOT_STARTED,
        "SUBMITTED": KYCState.SUBMITTED,
        "APPROVED": KYCState.APPROVED,
        "REJECTED": KYCState.REJECTED,
        "ADDITIONAL_FORMS_REQUIRED": KYCState.ACTION_REQUIRED,
    }
)
"""Transak status word -> :class:`~kycbridge.KYCState`; anything else -> ``unknown``."""
