"""kycbridge.validators: the query/settings pieces every plugin shares."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kycbridge import validators


@attrs.frozen
class Settings:
    base_url: str = attrs.field(
        default="https://api.example.test",
        converter=validators.clean_base_url,
        validator=validators.base_url(),
    )
    other_url: str | None = attrs.field(
        default=None,
        converter=validators.none_if_blank,
        validator=attrs.validators.optional(validators.base_url(refuse_fragment=True)),
    )


def test_none_if_blank() -> None:
    assert validators.none_if_blank("") is None
    assert validators.none_if_blank(" \t\n") is None
    assert validators.none_if_blank(" k ") == " k "
    assert validators.none_if_blank(5) == 5


def test_clean_base_url() -> None:
    assert validators.clean_base_url("  https://h.test/api//  ") == "https://h.test/api"
    assert validators.clean_base_url(None) is None


def test_base_url_accepts_https_and_loopback_http() -> None:
    assert Settings("https://h.test/api/").base_url == "https://h.test/api"
    assert Settings("http://127.0.0.1:8080/x").base_url == "http://127.0.0.1:8080/x"
    assert Settings(other_url="  ").other_url is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h.test",
        "http://h.test",  # plain http off loopback
        "https://user:pw-secret@h.test",
        "https://h.test/a b",
        "https://h.test/#frag-secret",
    ],
)
def test_base_url_refuses_what_the_core_refuses_without_quoting_it(url: str) -> None:
    with pytest.raises(ValueError, match=r"^base_url: ") as info:
        Settings(url)
    assert "secret" not in str(info.value)
    assert url.strip() not in str(info.value)


def test_base_url_refuses_a_query_string() -> None:
    with pytest.raises(ValueError, match=r"^base_url must not have a query string$"):
        Settings("https://h.test/api?key=secret")
    with pytest.raises(
        ValueError, match=r"^other_url must not have a query string or fragment$"
    ):
        Settings(other_url="https://h.test/api?key=secret")


def test_base_url_needs_a_string() -> None:
    with pytest.raises(TypeError, match=r"^base_url must be a string, not int$"):
        Settings(5)  # type: ignore[arg-type]


def test_check_text() -> None:
    assert validators.check_text("user_id", "abc", max_length=3) == "abc"
    with pytest.raises(TypeError, match=r"^user_id must be a string, not bytes$"):
        validators.check_text("user_id", b"abc", max_length=3)
    with pytest.raises(ValueError, match=r"^user_id must not be empty$"):
        validators.check_text("user_id", "", max_length=3)
    with pytest.raises(ValueError, match=r"^user_id is too long \(4 characters, at most 3\)$"):
        validators.check_text("user_id", "abcd", max_length=3)
    with pytest.raises(ValueError, match="contains whitespace or control characters") as info:
        validators.check_text("user_id", "jane.doe@example.com\n", max_length=99)
    assert "jane.doe" not in str(info.value)
    assert validators.check_text("user_id", "a b", max_length=3, allow_whitespace=True) == "a b"


@given(st.text(max_size=12))
def test_check_text_never_shows_the_value(value: str) -> None:
    secret = f"Zq{value}Zq"
    try:
        validators.check_text("user_id", secret, max_length=10)
    except ValueError as exc:
        assert secret not in str(exc)


def test_masked() -> None:
    assert validators.masked(None) == "None"
    assert validators.masked("jane.doe@example.com") == "'j***@e***.com'"


@attrs.frozen
@validators.exactly_one_of("email", "wallet")
class Query:
    email: str | None = attrs.field(default=None, repr=validators.masked)
    wallet: str | None = attrs.field(default=None, repr=validators.masked)


def test_exactly_one_of_declares_and_enforces() -> None:
    assert Query.one_of == (("email", "wallet"),)  # type: ignore[attr-defined]
    assert Query(email="a@b.test").email == "a@b.test"
    assert Query(wallet="w").wallet == "w"
    neither = r"^give exactly one of email or wallet \(neither given\)$"
    with pytest.raises(ValueError, match=neither):
        Query()
    with pytest.raises(ValueError, match=r"^give exactly one of email or wallet \(both given\)$"):
        Query(email="a@b.test", wallet="w")
    assert "a@b.test" not in repr(Query(email="a@b.test"))


def test_exactly_one_of_keeps_the_class_post_init_and_stacks() -> None:
    seen: list[str] = []

    @attrs.frozen
    @validators.exactly_one_of("c", "d", "e")
    @validators.exactly_one_of("a", "b")
    class Three:
        a: int | None = None
        b: int | None = None
        c: int | None = None
        d: int | None = None
        e: int | None = None

        def __attrs_post_init__(self) -> None:
            seen.append("own")

    assert Three.one_of == (("a", "b"), ("c", "d", "e"))  # type: ignore[attr-defined]
    Three(a=1, d=2)
    assert seen == ["own"]
    with pytest.raises(ValueError, match=r"^give exactly one of c, d or e \(2 given\)$"):
        Three(a=1, c=1, e=1)
    with pytest.raises(ValueError, match=r"^give exactly one of a or b \(neither given\)$"):
        Three(c=1)
    assert seen == ["own"]


def test_exactly_one_of_needs_two_distinct_names() -> None:
    with pytest.raises(ValueError):
        validators.exactly_one_of("a")
    with pytest.raises(ValueError):
        validators.exactly_one_of("a", "a")
