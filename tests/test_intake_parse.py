"""Reading a mail's header (pure): a table of real-world headers and what intake makes of them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.intake.parse import (
    Verdict,
    answer_address,
    digest,
    fields,
    parse,
    to_outside,
    verdict,
)

OWN = frozenset({"borgerservice@kommune.test"})
CITIZEN = b"From: Anna Hansen <Anna@Example.DK>\r\nTo: borgerservice@kommune.test\r\n"


def mail(*lines: bytes) -> bytes:
    return CITIZEN + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(mail(b"Subject: Hej"), (Verdict.CITIZEN, None), id="a plain citizen mail"),
        pytest.param(
            mail(b"Auto-Submitted: no"), (Verdict.CITIZEN, None), id="auto-submitted no is human"
        ),
        pytest.param(
            mail(b"Auto-Submitted: auto-replied"),
            (Verdict.IGNORED, "auto-submitted"),
            id="RFC 3834 auto-reply",
        ),
        pytest.param(mail(b"X-Autoreply: yes"), (Verdict.IGNORED, "auto-reply"), id="X-Autoreply"),
        pytest.param(
            mail(b"X-Autorespond: out of office"),
            (Verdict.IGNORED, "auto-reply"),
            id="X-Autorespond",
        ),
        pytest.param(
            mail(b"X-Auto-Response-Suppress: All"),
            (Verdict.CITIZEN, None),
            id="Exchange's suppress header: a person's mail all the same",
        ),
        pytest.param(mail(b"Precedence: bulk"), (Verdict.IGNORED, "bulk"), id="precedence bulk"),
        pytest.param(mail(b"Precedence: junk"), (Verdict.IGNORED, "bulk"), id="precedence junk"),
        pytest.param(
            mail(b"X-MS-Exchange-Inbox-Rules-Loop: a@b.dk"),
            (Verdict.IGNORED, "loop"),
            id="Exchange rules loop",
        ),
        pytest.param(mail(b"List-Id: <nyhed.kommune>"), (Verdict.IGNORED, "list"), id="list id"),
        pytest.param(
            mail(b"List-Unsubscribe: <mailto:x@y.dk>"), (Verdict.IGNORED, "list"), id="list unsub"
        ),
        pytest.param(mail(b"Return-Path: <>"), (Verdict.IGNORED, "bounce"), id="null return path"),
        pytest.param(
            b"From: MAILER-DAEMON@mx.example.dk\r\nSubject: Undelivered\r\n\r\n",
            (Verdict.IGNORED, "bounce"),
            id="mailer-daemon",
        ),
        pytest.param(
            mail(b'Content-Type: multipart/report; report-type=delivery-status; boundary="x"'),
            (Verdict.IGNORED, "bounce"),
            id="delivery status report",
        ),
        pytest.param(
            b"From: borgerservice@kommune.test\r\nTo: anna@example.dk\r\n\r\n",
            (Verdict.OWN, None),
            id="our own address",
        ),
        pytest.param(
            b"From: borgerservice@kommune.test\r\nAuto-Submitted: auto-replied\r\n\r\n",
            (Verdict.IGNORED, "auto-submitted"),
            id="our own out-of-office reply answers nobody",
        ),
        pytest.param(
            b"From: borgerservice@kommune.test\r\nReturn-Path: <>\r\n\r\n",
            (Verdict.IGNORED, "bounce"),
            id="our own mail with a null return path",
        ),
        pytest.param(
            b"From: borgerservice@kommune.test\r\nX-Auto-Response-Suppress: All\r\n\r\n",
            (Verdict.OWN, None),
            id="our own reply sent from Outlook",
        ),
        pytest.param(
            mail(b"X-Svarfrist-Kind: acknowledgement"),
            (Verdict.SVARFRIST, None),
            id="our own acknowledgement",
        ),
        pytest.param(b"Subject: no sender\r\n\r\n", (Verdict.IGNORED, "no sender"), id="no From"),
    ],
)
def test_what_a_mail_is_follows_its_header(
    raw: bytes, expected: tuple[Verdict, str | None]
) -> None:
    assert verdict(parse(raw), OWN) == expected


def test_addresses_are_read_in_lower_case_and_reply_to_wins_for_the_answer() -> None:
    m = parse(mail(b"Reply-To: Svar <SVAR@example.dk>", b"Cc: Byg@Kommune.test"))
    assert m.sender == "anna@example.dk"
    assert answer_address(m, OWN) == "svar@example.dk"
    assert m.recipients == ("borgerservice@kommune.test", "byg@kommune.test")


@pytest.mark.parametrize(
    "reply_to",
    [
        pytest.param(b"Reply-To: Borgerservice <Borgerservice@kommune.test>", id="own address"),
        pytest.param(b"Reply-To: borgerservice@kommune.test, anna@example.dk", id="own first"),
    ],
)
def test_a_reply_to_naming_the_mailbox_itself_is_passed_over(reply_to: bytes) -> None:
    """A form or a mail client that sets Reply-To to the office's own address: the
    acknowledgement goes to the citizen who wrote, never to the mailbox itself."""
    assert answer_address(parse(mail(reply_to)), OWN) == "anna@example.dk"


def test_delivered_to_comes_first_among_the_recipients() -> None:
    m = parse(mail(b"Delivered-To: byg@kommune.test"))
    assert m.recipients[0] == "byg@kommune.test"


def test_the_ref_tag_is_found_in_an_encoded_subject() -> None:
    subject = b"Subject: =?utf-8?q?Sv=3A_=C3=86ndring_=5BSF_2026-000042=5D?="
    assert parse(mail(subject)).ref_tag == "2026-000042"


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(b"=?x-unknown?q?Sv=3A_=5BSF_2026-000042=5D?=", id="unknown charset"),
        pytest.param(b"=?utf-8?q?Sv=3A_=E6ndring_=5BSF_2026-000042=5D?=", id="latin-1 as utf-8"),
        pytest.param(b"=?utf-8*da?q?Sv=3A_=5BSF_2026-000042=5D?=", id="RFC 2231 language"),
        pytest.param(
            b"=?utf-8?q?Sv=3A_=C3=86ndring?= \xe6 =?x-unknown?q?=5BSF_2026-000042=5D?=",
            id="mixed with 8-bit text",
        ),
    ],
)
def test_the_ref_tag_is_found_in_a_subject_with_a_broken_encoded_word(subject: bytes) -> None:
    """One word that cannot be decoded lost the whole subject: the follow-up became a new
    inquiry with a second acknowledgement."""
    assert parse(mail(b"Subject: " + subject)).ref_tag == "2026-000042"


def test_threading_ids_come_from_in_reply_to_and_references() -> None:
    m = parse(
        mail(
            b"Message-ID: <c@example.dk>",
            b"References: <a@kommune.test>\r\n <b@kommune.test>",
            b"In-Reply-To: <b@kommune.test>",
        )
    )
    assert m.message_id == "c@example.dk"
    assert m.references == ("a@kommune.test", "b@kommune.test")


def test_a_long_references_chain_keeps_its_root_and_the_newest() -> None:
    chain = b" ".join(b"<m%d@example.dk>" % n for n in range(200))
    m = parse(mail(b"References: " + chain, b"In-Reply-To: <m199@example.dk>"))
    assert len(m.references) == 20
    assert m.references[0] == "m0@example.dk"
    assert m.references[1:] == tuple(f"m{n}@example.dk" for n in range(181, 200))


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        pytest.param(
            b"Date: Tue, 01 Dec 2026 10:00:00 +0100", datetime(2026, 12, 1, 9, tzinfo=UTC)
        ),
        pytest.param(b"Date: in the morning", None, id="unparseable"),
        pytest.param(b"Date: Tue, 01 Dec 2026 10:00:00 -0000", None, id="no zone given"),
        pytest.param(b"X-No-Date: 1", None, id="missing"),
    ],
)
def test_a_bad_date_is_none_never_an_error(date: bytes, expected: datetime | None) -> None:
    assert parse(mail(date)).date == expected


def test_eight_bit_headers_broken_lines_and_injection_are_read_without_error() -> None:
    raw = (
        b"From: =?bogus-charset?q?J=F8rgen?= <j@example.dk>\r\n"
        b"Subject: \xe6\xf8\xe5 latin-1 [SF 2026-000007]\r\n"
        b"this line is no header at all\r\n"
        b"X-Evil: a\r\n\tBcc: victim@example.dk\r\n"
        b"\r\n"
        b"Body: never read\r\n"
    )
    m = parse(raw)
    assert m.sender == "j@example.dk"
    assert m.ref_tag == "2026-000007"
    assert "body" not in fields(raw)
    assert fields(raw)["x-evil"] == ["a Bcc: victim@example.dk"]


def test_comments_nested_deep_in_an_address_field_are_no_error() -> None:
    """The stdlib's address parser recurses into each nested comment: a thousand "(" in a
    From, To or Reply-To raised RecursionError, and the mail went to the error folder."""
    nested = b"(" * 1000 + b" <x@example.dk>"
    raw = mail(b"Reply-To: " + nested, b"Cc: " + nested)
    m = parse(raw)
    assert m.sender == "anna@example.dk" and answer_address(m, OWN) == "anna@example.dk"
    assert verdict(parse(b"From: " + nested + b"\r\n\r\n"), OWN) == (
        Verdict.IGNORED,
        "no sender",
    )


def test_the_keyed_hash_depends_on_the_key() -> None:
    assert digest(b"k" * 16, "a@b.dk") != digest(b"j" * 16, "a@b.dk")
    assert len(digest(b"k" * 16, "a@b.dk")) == 64


@pytest.mark.parametrize(
    ("value", "suppressed"),
    [
        (b"All", True),
        (b"DR, NDR, RN, NRN, OOF, AutoReply", True),
        (b"autoreply", True),
        (b"OOF", False),
        (b"DR, OOF", False),
        (b"None", False),
    ],
)
def test_a_wish_for_no_automatic_reply_is_read_from_exchanges_header(
    value: bytes, suppressed: bool
) -> None:
    parsed = parse(mail(b"X-Auto-Response-Suppress: " + value))
    assert parsed.loop is None and parsed.no_auto_reply is suppressed
    assert parse(mail()).no_auto_reply is False


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(b"=?utf-8?b?-8?q?Hj=C3=A6lp?= [SF 2026-000042]", id="broken base64"),
        pytest.param(b"=?\x80utf-8\x0f?q?Hj=C3=A6lp?= [SF 2026-000042]", id="8-bit charset name"),
        pytest.param(b"=?L\x00utf-8?q?Hj=C3=A6lp?= [SF 2026-000042]", id="NUL in charset name"),
    ],
)
def test_a_broken_encoded_word_in_the_subject_still_gives_the_ref_tag(subject: bytes) -> None:
    """Each of these raised out of parse (HeaderParseError, CharsetError, ValueError), so the
    citizen's follow-up went to the error folder instead of its inquiry."""
    parsed = parse(mail(b"Subject: " + subject))
    assert parsed.ref_tag == "2026-000042" and parsed.sender == "anna@example.dk"


# A header made at random of fields that real mail has, whose values mix encoded words
# (well-formed or not: charsets unknown or broken, bad base64), addresses, comments, dates
# and stray bytes.
_NAMES = [b"From", b"Reply-To", b"To", b"Cc", b"Subject", b"Date", b"Message-ID", b"References",
          b"In-Reply-To", b"Auto-Submitted", b"X-Auto-Response-Suppress", b"Precedence",
          b"Delivered-To", b"X-Svarfrist-Kind"]  # fmt: skip
_WORD = st.tuples(
    st.sampled_from(
        [b"utf-8", b"iso-8859-1", b"x-unknown", b"utf-8*da", b"\x80utf-8", b"L\x00", b""]
    ),
    st.sampled_from([b"q", b"b", b"Q", b"x"]),
    st.one_of(st.sampled_from([b"w6Y=", b"-8", b"Hj=C3=A6lp", b"=?", b""]), st.binary(max_size=5)),
).map(lambda w: b"=?" + w[0] + b"?" + w[1] + b"?" + w[2] + b"?=")
_PIECE = st.sampled_from(
    [b"<", b">", b"@", b",", b";", b'"', b"\\", b"(", b")", b"[SF 2026-000042]", b"\xc3\xa6",
     b"\xff", b"\x00", b"Mon, 30 Nov 2026 10:00:00 +0100", b"31 Feb 99999 25:61 -9999",
     b"anna@example.dk", b"<a@example.dk>", b"borgerservice@kommune.test", b"a@kommune.test",
     b"\r\n ", b"\r\n\t", b"no", b"auto-replied", b"All"]
)  # fmt: skip
_VALUE = st.lists(st.one_of(_WORD, _PIECE, st.binary(max_size=4)), max_size=8).map(b" ".join)
_HEADER = st.lists(
    st.tuples(st.sampled_from(_NAMES), _VALUE).map(lambda f: f[0] + b": " + f[1]), max_size=8
).map(lambda lines: b"\r\n".join(lines) + b"\r\n\r\n")


@settings(max_examples=500, deadline=None)
@given(_HEADER)
def test_no_header_bytes_make_reading_a_mail_raise(raw: bytes) -> None:
    """Bad mail never stops intake, and a mail that can be read is not sent to the error
    folder: parse and every question asked of its result answer for any header."""
    parsed = parse(raw)
    staff = frozenset({"kommune.test"})
    assert verdict(parsed, OWN, staff)[0] in Verdict
    answer_address(parsed, OWN)
    to_outside(parsed, OWN, staff)
