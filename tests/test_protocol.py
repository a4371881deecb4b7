"""The provider protocol declares every attribute the core reads; validation checks exactly it."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import attrs
import pytest
from toy import ToyDetails, ToyProvider

import kycbridge
from kycbridge import HTTPStatusProvider, KYCStatusProvider, hookspecs
from kycbridge.plugins import PluginRegistry, _check_provider
from kycbridge.provider import PROVIDER_MEMBERS
from kycbridge.report import DETAILS_TYPES, StatusReport, report_to_dict


def test_the_members_are_exactly_what_the_protocol_declares():
    assert PROVIDER_MEMBERS == (
        "name",
        "query_type",
        "settings_type",
        "details_type",
        "status_map",
        "rate_limit",
        "watch_interval",
        "watch_max_interval",
        "subject",
        "normalize",
        "fetch",
    )
    declared = {
        n
        for n, v in vars(KYCStatusProvider).items()
        if not n.startswith("_") and (isinstance(v, property) or inspect.isfunction(v))
    }
    assert set(PROVIDER_MEMBERS) == declared


def test_the_base_class_has_every_member_with_defaults():
    declared = set(dir(HTTPStatusProvider)) | set(HTTPStatusProvider.__annotations__)
    for member in PROVIDER_MEMBERS:
        assert member in declared, member
    assert HTTPStatusProvider.watch_interval is None
    assert HTTPStatusProvider.watch_max_interval is None
    assert isinstance(ToyProvider(), KYCStatusProvider)
    request = kycbridge.Request(url="https://h.test")
    assert ToyProvider().sign(request, None, 0.0) is request  # the default signs nothing


@pytest.mark.parametrize("member", PROVIDER_MEMBERS)
def test_a_provider_lacking_any_member_is_refused(member):
    provider = ToyProvider()
    values = {name: getattr(provider, name) for name in PROVIDER_MEMBERS}
    del values[member]
    lacking = type("Lacking", (), values)()
    with pytest.raises(TypeError, match=member):
        _check_provider(lacking)


def test_register_hooks_are_typed():
    hints = typing.get_type_hints(
        hookspecs.register_providers,
        {"KYCStatusProvider": KYCStatusProvider, **vars(typing)},
        {"Callable": typing.Callable},
    )
    assert "KYCStatusProvider" in str(hints["register"])
    spec = inspect.signature(hookspecs.register_simulators).parameters["register"].annotation
    assert spec == "Callable[[Simulator], None]"


@attrs.frozen
class OtherDetails:
    word: str | None = None
    flag: bool = False
    extra: int = 0


class OtherToy(ToyProvider):
    details_type = OtherDetails


def plugin_of(provider: Any) -> object:
    class plugin:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register: Any) -> None:
            register(provider)

    return plugin


def test_each_bridge_structures_details_with_its_own_providers():
    report = StatusReport(
        provider="toy", state="approved", raw_status="OK", details=ToyDetails("OK", True)
    )
    data = report_to_dict(report)
    first = kycbridge.Bridge([plugin_of(ToyProvider())], env={})
    second = kycbridge.Bridge([plugin_of(OtherToy())], env={})
    assert first.report_from_dict(data).details == ToyDetails("OK", True)
    assert second.report_from_dict(data).details == OtherDetails("OK", True)
    assert "toy" not in DETAILS_TYPES  # nothing process-wide was written
    assert kycbridge.report_from_dict(data).details == {"word": "OK", "flag": True}
    registry = PluginRegistry([plugin_of(OtherToy())], entry_points=False, env={})
    assert registry.details_types() == {"toy": OtherDetails}
