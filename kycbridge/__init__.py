"""kycbridge: one answer from every KYC provider.

*Where is this user's verification, and is it final?* Providers ship as plugins (entry-point
group ``kycbridge``); this package is the small core they plug into. Importing it loads no
plugin: discovery happens on first use.
"""

from ._version import __version__
from .bridge import Bridge
from .compat import PLUGIN_API_VERSION
from .errors import (
    AuthenticationError,
    InvalidQuery,
    KYCBridgeError,
    MalformedResponse,
    PluginBroken,
    PluginError,
    ProviderConflict,
    ProviderNotInstalled,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
    WatchTimeout,
)
from .errortable import ErrorBody, ErrorFields, ErrorTable, Override
from .hookspecs import hookimpl
from .lazy import lazy_exports
from .mapping import ANY, CompositeStatusMap, StatusMap
from .provider import HTTPStatusProvider, KYCStatusProvider, Parsed, secret
from .report import StatusReport, report_from_dict, report_to_dict
from .states import FINAL_STATES, TRANSITIONS, KYCState, StateMachine, Transition
from .transport import Request, Response, Transport

__all__ = [
    "ANY",
    "FINAL_STATES",
    "PLUGIN_API_VERSION",
    "TRANSITIONS",
    "AuthenticationError",
    "Bridge",
    "CompositeStatusMap",
    "ErrorBody",
    "ErrorFields",
    "ErrorTable",
    "HTTPStatusProvider",
    "InvalidQuery",
    "KYCBridgeError",
    "KYCState",
    "KYCStatusProvider",
    "MalformedResponse",
    "Override",
    "Parsed",
    "PluginBroken",
    "PluginError",
    "ProviderConflict",
    "ProviderNotInstalled",
    "ProviderUnavailable",
    "RateLimited",
    "Request",
    "RequestRejected",
    "Response",
    "StateMachine",
    "StatusMap",
    "StatusReport",
    "SubjectNotFound",
    "Transition",
    "Transport",
    "WatchTimeout",
    "__version__",
    "hookimpl",
    "lazy_exports",
    "report_from_dict",
    "report_to_dict",
    "secret",
]
