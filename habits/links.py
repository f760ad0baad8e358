"""Links as members type them: which words are links, and one canonical spelling per link."""

from __future__ import annotations

import re
import unicodedata
from enum import Enum
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

import idna
from url_normalize import url_normalize

from habits.model import MAX_URL


class LinkProblem(Enum):
    """Why a typed link was refused."""

    TOO_LONG = "too long"
    CREDENTIALS = "credentials"
    INVALID = "invalid"


def check_url(candidate: str) -> tuple[str | None, LinkProblem | None]:
    """(canonical URL, None), or (None, why it was refused); ``normalize_url`` says how."""
    if not candidate or any(ch.isspace() for ch in candidate):
        return None, LinkProblem.INVALID
    if candidate.lower().startswith("www."):
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        port = parts.port  # raises ValueError for ':99999' or ':abc'
    except ValueError:
        return None, LinkProblem.INVALID
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None, LinkProblem.INVALID
    if "@" in parts.netloc:
        return None, LinkProblem.CREDENTIALS
    labels = host.split(".")
    if host != "localhost" and (len(labels) < 2 or not all(labels) or len(labels[-1]) < 2):
        return None, LinkProblem.INVALID
    if any(not (ch.isalnum() or ch in "-.") for ch in host):
        return None, LinkProblem.INVALID
    netloc = host if port is None else f"{host}:{port}"
    query = "&".join(
        field
        for field in parts.query.split("&")
        if field and not field.partition("=")[0].lower().startswith("utm_")
    )
    typed = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    try:
        # One spelling per link: an IDNA host, no default port, percent-escapes in one case
        # and none for unreserved characters, no dot segments.
        normalized = url_normalize(typed)
    except (ValueError, UnicodeError):
        normalized = None
    if normalized is None:
        return None, LinkProblem.TOO_LONG if len(typed.encode()) > MAX_URL else LinkProblem.INVALID
    uri = urlsplit(normalized)
    path = uri.path or "/"
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    # Shown and stored readable: the host in Unicode, non-ASCII characters unescaped.
    host_shown, query_shown = _unicode_host(uri.netloc), _readable(uri.query)
    url = urlunsplit((uri.scheme, host_shown, _readable(path), query_shown, ""))
    if len(url.encode()) > MAX_URL:
        return None, LinkProblem.TOO_LONG
    return url, None


_ESCAPES_RE = re.compile(r"(?:%[0-9A-F]{2})+")


def _unicode_host(netloc: str) -> str:
    """'xn--r8jz45g.jp' → '例え.jp' (IDNA 2008); a label that is not valid IDNA stays as it is."""
    host, colon, port = netloc.partition(":")
    labels = []
    for label in host.split("."):
        try:
            labels.append(idna.decode(label) if label.startswith("xn--") else label)
        except idna.IDNAError:
            labels.append(label)
    return ".".join(labels) + colon + port


def _readable(text: str) -> str:
    """Percent-escapes of non-ASCII characters as the characters ('caf%C3%A9' → 'café'); escapes
    of ASCII (%20, %2F), spaces and invisible characters stay escaped."""

    def decode(match: re.Match[str]) -> str:
        raw = unquote_to_bytes(match.group())
        out: list[str] = []
        index = 0
        while index < len(raw):
            size = 2 if 0xC0 <= raw[index] < 0xE0 else 3 if 0xE0 <= raw[index] < 0xF0 else 4
            try:
                char = raw[index : index + size].decode("utf-8") if raw[index] >= 0x80 else ""
            except UnicodeDecodeError:
                char = ""
            if char and unicodedata.category(char)[0] not in "CZ":
                out.append(char)
                index += size
            else:
                out.append(f"%{raw[index]:02X}")
                index += 1
        return "".join(out)

    return _ESCAPES_RE.sub(decode, text)


def normalize_url(candidate: str) -> str | None:
    """A canonical http(s) URL, or None if the text is not one we accept.

    Lowercases scheme and host, drops the fragment, utm_* parameters and a default port
    (:443, :80), writes the host in Unicode (not punycode) and non-ASCII characters unescaped,
    other percent-escapes in upper case and unreserved ones as characters, removes a trailing
    slash (keeping a bare "/"), and refuses credentials, bad ports and more than MAX_URL bytes.
    """
    return check_url(candidate)[0]


def url_variants(url: str) -> list[str]:
    """Spellings of a normalized URL that count as the same publication, the given one first.

    http and https are swapped and a leading "www." is added or removed: up to four URLs, each
    normalized, without duplicates. Then the spellings links were stored in before they were
    normalized this far, so an old row still matches: each of those with its default port
    (:443, :80) and in ASCII (a punycode host, non-ASCII characters percent-escaped).
    """
    if normalize_url(url) is None:
        return [url]
    parts = urlsplit(url)  # not re-normalized: that could drop a kept slash ("/a//" → "/a/")
    host = parts.hostname or ""
    port = "" if parts.port is None else f":{parts.port}"
    if host.startswith("www."):
        other_host: str | None = host.removeprefix("www.")
    elif host == "localhost" or host.replace(".", "").isdigit():
        other_host = None
    else:
        other_host = "www." + host
    other_scheme = "http" if parts.scheme == "https" else "https"
    variants = [url]
    for scheme in (parts.scheme, other_scheme):
        for name in (host, other_host):
            if name is None:
                continue
            spelled = urlunsplit((scheme, name + port, parts.path, parts.query, ""))
            # Accepting the spelling is enough (only the slash rule could change it again);
            # it must also still fit the byte limit.
            fits = len(spelled.encode()) <= MAX_URL
            if fits and normalize_url(spelled) is not None and spelled not in variants:
                variants.append(spelled)
    older = [old for variant in variants for old in _older_spellings(variant)]
    variants += [old for old in dict.fromkeys(older) if old not in variants]
    return variants


def _older_spellings(url: str) -> list[str]:
    """A normalized URL as earlier versions may have stored it: in ASCII, with the default
    port, or both."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ascii_host = idna.encode(host, uts46=True).decode()
    except (idna.IDNAError, UnicodeError):
        ascii_host = host
    port = "" if parts.port is None else f":{parts.port}"
    ascii_url = urlunsplit(
        (parts.scheme, ascii_host + port, _escaped(parts.path), _escaped(parts.query), "")
    )
    spellings = [ascii_url]
    if parts.port is None:
        default = ":443" if parts.scheme == "https" else ":80"
        for spelled in (url, ascii_url):
            old = urlsplit(spelled)
            old_netloc = old.netloc + default
            spellings.append(urlunsplit((old.scheme, old_netloc, old.path, old.query, "")))
    return [old for old in dict.fromkeys(spellings) if old != url and len(old.encode()) <= MAX_URL]


def _escaped(text: str) -> str:
    """Non-ASCII characters percent-escaped as UTF-8 ('café' → 'caf%C3%A9')."""
    return re.sub(r"[^\x00-\x7f]+", lambda match: quote(match.group(), safe=""), text)


_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]{0,15}:/", re.IGNORECASE)


# A host with a dot and a top-level domain, then a path: "example.com/post" is a link.
_BARE_LINK_RE = re.compile(r"^(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?::\d{1,5})?/", re.I)


def is_clear_link(token: str) -> bool:
    """A word that can only be a link: it has a scheme or starts with "www."."""
    return bool(_SCHEME_RE.match(token)) or token.lower().startswith("www.")


def looks_like_link(token: str) -> bool:
    """Whether the writer meant this word as a link (so a broken one is an error, not a title)."""
    return is_clear_link(token) or bool(_BARE_LINK_RE.match(token))


def typed_link(token: str) -> tuple[str | None, LinkProblem | None]:
    """``check_url`` for a word typed as a link; a bare domain with a path gets https."""
    if _BARE_LINK_RE.match(token) and not _SCHEME_RE.match(token):
        token = "https://" + token
    return check_url(token)
