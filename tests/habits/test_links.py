"""Links: one canonical spelling per link, and the spellings that count as the same one."""

from __future__ import annotations

import pytest

from habits.links import normalize_url, url_variants
from habits.model import MAX_URL

# --- links -------------------------------------------------------------------------------------

SAME_POST = ["https://example.com/a", "https://example.com/a/", "http://example.com/a"]

NORMALIZED = [
    ("https://example.com/a/", "https://example.com/a"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/", "https://example.com/"),
    ("HTTPS://Example.COM/Path/", "https://example.com/Path"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a/#top", "https://example.com/a"),
    ("https://example.com/a?utm_source=x&id=3", "https://example.com/a?id=3"),
    ("https://example.com/a?id=3&utm_medium=mail&b=2", "https://example.com/a?id=3&b=2"),
    ("https://example.com/a/?UTM_Campaign=z", "https://example.com/a"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
    ("https://example.com/a?q=a+b%20c", "https://example.com/a?q=a+b%20c"),
    ("https://example.com/a?utmost=1", "https://example.com/a?utmost=1"),
    ("https://example.com:8443/a/", "https://example.com:8443/a"),
    ("https://example.com:/a", "https://example.com/a"),
    ("www.Example.com/a/", "https://www.example.com/a"),
    ("https://medium.com/@writer/post", "https://medium.com/@writer/post"),
    ("https://bücher.de/straße", "https://bücher.de/straße"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZED, ids=[r for r, _ in NORMALIZED])
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected
    assert normalize_url(expected) == expected


def test_empty_path_segments_collapse_and_the_trailing_slash_goes() -> None:
    assert normalize_url("https://example.com/a//") == "https://example.com/a"
    # A link stored with its slash by an earlier version still finds its spellings.
    assert canonical(url_variants("https://example.com/a/")) == [
        "https://example.com/a/",
        "https://www.example.com/a/",
        "http://example.com/a/",
        "http://www.example.com/a/",
    ]


def canonical(variants: list[str]) -> list[str]:
    """The spellings that are normalized themselves (the rest are older stored spellings)."""
    return [v for v in variants if normalize_url(v) in (v, v.removesuffix("/"))]


SAME_LINK = [
    ("https://例え.jp/post", "https://xn--r8jz45g.jp/post"),
    ("https://例え.jp/post", "https://XN--R8JZ45G.jp/post"),
    ("https://bücher.de/straße", "https://xn--bcher-kva.de/stra%C3%9Fe"),
    ("https://example.com/a", "https://example.com:443/a"),
    ("http://example.com/a", "http://example.com:80/a"),
    ("https://example.com/~user", "https://example.com/%7euser"),
    ("https://example.com/~user", "https://example.com/%7Euser"),
    ("https://example.com/café", "https://example.com/caf%c3%a9"),
    ("https://example.com/a%2Fb", "https://example.com/a%2fb"),
    ("https://example.com/a/c", "https://example.com/a/b/../c"),
]


@pytest.mark.parametrize(("shown", "typed"), SAME_LINK, ids=[t for _, t in SAME_LINK])
def test_one_link_has_one_normalized_spelling(shown: str, typed: str) -> None:
    assert normalize_url(typed) == shown
    assert normalize_url(shown) == shown


def test_different_links_stay_different() -> None:
    assert normalize_url("https://example.com:8443/a") == "https://example.com:8443/a"
    assert normalize_url("http://example.com:443/a") == "http://example.com:443/a"
    assert normalize_url("https://example.com/a%20b") == "https://example.com/a%20b"  # no space
    assert normalize_url("https://example.com/a%2Fb") != normalize_url("https://example.com/a/b")
    assert normalize_url("https://example.com/%E2%80%8B") == "https://example.com/%E2%80%8B"


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("https://xn--r8jz45g.jp/post", "https://例え.jp/post"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "https://www.example.com/a"),
        ("https://example.com/caf%C3%A9", "https://example.com/café"),
        ("https://xn--r8jz45g.jp:443/post", "http://www.例え.jp/post"),
    ],
)
def test_spellings_stored_by_earlier_versions_are_among_the_variants(
    stored: str, typed: str
) -> None:
    url = normalize_url(typed)
    assert url is not None
    assert stored in url_variants(url)


REFUSED_URLS = [
    "",
    "https://",
    "ftp://example.com/file",
    "https://exa_mple.com",
    "https://user:pass@example.com/a",
    "https://user@example.com/a",
    "https://@example.com/a",
    "https://example.com@evil.example/a",
    "https://example.com:99999/a",
    "https://example.com:abc/a",
    "https://example.com/a b",
]


@pytest.mark.parametrize("raw", REFUSED_URLS)
def test_normalize_url_refuses(raw: str) -> None:
    assert normalize_url(raw) is None


def test_three_spellings_of_one_post_match_each_other() -> None:
    normalized = [normalize_url(raw) for raw in SAME_POST]
    assert normalized == ["https://example.com/a", "https://example.com/a", "http://example.com/a"]
    for url in normalized:
        assert url is not None
        assert set(url_variants(url)) >= {"https://example.com/a", "http://example.com/a"}


@pytest.mark.parametrize(
    ("url", "variants"),
    [
        (
            "https://example.com/a",
            [
                "https://example.com/a",
                "https://www.example.com/a",
                "http://example.com/a",
                "http://www.example.com/a",
            ],
        ),
        (
            "http://www.example.com/a?id=3",
            [
                "http://www.example.com/a?id=3",
                "http://example.com/a?id=3",
                "https://www.example.com/a?id=3",
                "https://example.com/a?id=3",
            ],
        ),
        (
            "https://example.com:8443/",
            [
                "https://example.com:8443/",
                "https://www.example.com:8443/",
                "http://example.com:8443/",
                "http://www.example.com:8443/",
            ],
        ),
        ("http://localhost:8000/x", ["http://localhost:8000/x", "https://localhost:8000/x"]),
        ("https://www.com/x", ["https://www.com/x", "http://www.com/x"]),
    ],
)
def test_url_variants(url: str, variants: list[str]) -> None:
    assert canonical(url_variants(url)) == variants


@pytest.mark.parametrize("raw", SAME_POST)
def test_url_variants_are_normalized_and_distinct(raw: str) -> None:
    url = normalize_url(raw)
    assert url is not None
    variants = url_variants(url)
    assert variants[0] == url
    assert len(variants) == len(set(variants))
    spellings = canonical(variants)
    assert len(spellings) <= 4
    assert all(normalize_url(v) in spellings for v in variants)
    assert all(url_variants(v)[0] == v and set(url_variants(v)) == set(variants) for v in spellings)


def test_url_variants_leave_out_a_spelling_over_the_limit() -> None:
    url = "http://example.com/" + "a" * (MAX_URL - len("http://example.com/"))
    assert len(url.encode()) == MAX_URL
    assert url_variants(url) == [url]


def url_of_bytes(size: int, filler: str = "a", prefix: str = "https://example.com/") -> str:
    """A URL of exactly ``size`` UTF-8 bytes (filler must divide the remainder)."""
    remainder = size - len(prefix.encode())
    count, rest = divmod(remainder, len(filler.encode()))
    assert rest == 0
    return prefix + filler * count


def test_a_url_of_exactly_the_limit_is_accepted() -> None:
    url = url_of_bytes(MAX_URL)
    assert normalize_url(url) == url


def test_a_url_one_byte_over_the_limit_is_refused() -> None:
    assert normalize_url(url_of_bytes(MAX_URL + 1)) is None


def test_the_limit_applies_after_normalising() -> None:
    long = url_of_bytes(MAX_URL)
    assert normalize_url(long + "?utm_source=newsletter#top") == long
    assert normalize_url(long + "/") == long


def test_non_ascii_links_are_counted_in_utf8_bytes() -> None:
    fits = url_of_bytes(MAX_URL, filler="é")  # 990 characters of 2 bytes after a 20-byte prefix
    assert len(fits) < MAX_URL == len(fits.encode())
    over = url_of_bytes(MAX_URL + 1, filler="é", prefix="https://example.co/")
    assert len(over) < MAX_URL < len(over.encode())
    assert normalize_url(fits) == fits
    assert normalize_url(over) is None
    assert normalize_url("https://example.com/" + "😀" * 500) is None  # 500 characters, 2,020 bytes
