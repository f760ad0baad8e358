"""Slack's text formatting at the edges: slash-command text in, mrkdwn out (pure functions)."""

from __future__ import annotations

import pytest

from bot.slack.blocks import MAX_FALLBACK, clip, fallback_text, notice_blocks, reply_blocks
from bot.slack.text import escape_mrkdwn, unescape_command_text
from habits.catalogue import M
from habits.messages import MemberText, Notice, Reply, say
from habits.model import DeliveryKind, MemberRef
from tests.fakes.slack_server import rendered, slack_escape


@pytest.mark.parametrize(
    ("wire", "typed"),
    [
        pytest.param("1 post", "1 post", id="plain"),
        pytest.param("", "", id="empty"),
        pytest.param("Q&amp;A night", "Q&A night", id="ampersand"),
        pytest.param("a &lt;b&gt; c", "a <b> c", id="angle-brackets"),
        pytest.param(
            "https://ex.com/?a=1&amp;b=2 Q&amp;A", "https://ex.com/?a=1&b=2 Q&A", id="query"
        ),
        pytest.param("<https://ex.com/a>", "https://ex.com/a", id="bare-link"),
        pytest.param("<https://ex.com/a|ex.com/a> My post", "https://ex.com/a My post", id="label"),
        pytest.param(
            "<https://ex.com/?a=1&amp;b=2|the label> T", "https://ex.com/?a=1&b=2 T", id="link-amp"
        ),
        pytest.param("<http://ex.com|ex.com>", "http://ex.com", id="http"),
        pytest.param("<ftp://ex.com/f>", "ftp://ex.com/f", id="other-scheme"),
        # A typed "&lt;" is sent as "&amp;lt;": decoding &amp; last keeps it as typed.
        pytest.param("&amp;lt;tag&amp;gt;", "&lt;tag&gt;", id="typed-entity"),
        pytest.param("&amp;amp;", "&amp;", id="typed-amp-entity"),
        # A typed "<https://x>" is escaped by Slack, so it is not a link Slack formatted.
        pytest.param("&lt;https://ex.com&gt;", "<https://ex.com>", id="typed-brackets"),
        # should_escape: true — what Slack makes of a bare domain, an address and mentions.
        pytest.param(
            "<http://example.com/post|example.com/post> T", "http://example.com/post T", id="domain"
        ),
        pytest.param("<mailto:a@b.c|a@b.c>", "a@b.c", id="mailto"),
        pytest.param("<mailto:a@b.c>", "a@b.c", id="mailto-no-label"),
        pytest.param("<@U123|ana> hi", "@ana hi", id="user-mention"),
        pytest.param("<@U123> hi", "@U123 hi", id="user-mention-no-name"),
        pytest.param("in <#C123|general>", "in #general", id="channel"),
        pytest.param("<!here> <!channel> <!everyone>", "@here @channel @everyone", id="special"),
        pytest.param("<!subteam^S1|@writers>", "@writers", id="user-group"),
        pytest.param("&lt;@U123&gt;", "<@U123>", id="typed-mention-syntax"),
        pytest.param("🎉 party &amp; more", "🎉 party & more", id="emoji"),
    ],
)
def test_unescape_command_text(wire: str, typed: str) -> None:
    assert unescape_command_text(wire) == typed


@pytest.mark.parametrize("typed", ["Q&A", "a <b> & c", "&amp; as typed", "&lt;", "plain", "🎉"])
def test_what_slack_escapes_comes_back_as_typed(typed: str) -> None:
    assert unescape_command_text(slack_escape(typed)) == typed


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("https://ex.com/?a=1&b=2 Q&A", "https://ex.com/?a=1&b=2 Q&A"),
        ("example.com/post My post", "http://example.com/post My post"),
        ("see blog.example.org.", "see http://blog.example.org."),
        ("a@b.io", "a@b.io"),
        ("ftp://example.com/f", "ftp://example.com/f"),
    ],
)
def test_links_slack_makes_with_should_escape_come_back_as_links(typed: str, read: str) -> None:
    assert (slack_escape(typed) != slack_escape(typed, links=False)) != typed.startswith("ftp")
    assert unescape_command_text(slack_escape(typed)) == read


@pytest.mark.parametrize("text", ["Q&A", "a <b> & c", "&amp; stays &amp;", "<https://x|y>"])
def test_outgoing_text_is_escaped_exactly_once(text: str) -> None:
    reply = Reply.of(say(M.LOGGED, what=say(M.QUOTED, text=MemberText(text)), progress=""))
    [section] = reply_blocks(reply)

    assert section["text"]["type"] == "plain_text"  # the member's words: never formatted
    assert section["text"]["text"] == escape_mrkdwn(reply.text)
    assert rendered(section["text"]["text"]) == reply.text
    assert rendered(fallback_text(reply.body)) == reply.text
    notice = Notice(MemberRef.slack("T1", "U1"), DeliveryKind.NUDGE, reply.body)
    assert rendered(notice_blocks(notice)[1]["text"]["text"]) == reply.text


def test_engine_words_alone_stay_mrkdwn() -> None:
    reply = Reply.of(say(M.NOTHING_TO_UNDO))
    [section] = reply_blocks(reply)

    assert section["text"] == {"type": "mrkdwn", "text": reply.text}


def test_clipping_never_cuts_an_entity_in_half() -> None:
    text = escape_mrkdwn("x" * (MAX_FALLBACK - 8) + "&&&&")
    clipped = clip(text, MAX_FALLBACK)

    assert len(clipped) <= MAX_FALLBACK
    assert clipped.endswith("x&amp;…")
    body = (say(M.QUOTED, text=MemberText("&" * 5000)),)
    assert len(fallback_text(body)) <= MAX_FALLBACK
