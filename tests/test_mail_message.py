"""``message.build``: what it writes parses back, with the stdlib, to what it was given."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.mail.message import Content, build

NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)
# Danish letters, markup, "=" and "-" (quoted-printable and boundary syntax), tabs, trailing
# spaces and long lines; no CR, which templates never write.
_TEXT = st.text(
    alphabet=st.sampled_from("abc æøåÆØÅ–€\t=-_.<>&\"'\n") | st.characters(codec="utf-8"),
    max_size=400,
).map(lambda s: s.replace("\r", ""))


def _parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _written(text: str) -> str:
    """A body as the receiver reads it: every line ended, lines split as bytes split them."""
    return (b"\n".join(text.encode("utf-8").splitlines()) + b"\n").decode("utf-8")


def _read(part: EmailMessage | None) -> str:
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


@settings(max_examples=200, deadline=None)
@given(subject=_TEXT, text=_TEXT, html=_TEXT)
def test_text_and_html_parse_back_as_they_were_written(subject: str, text: str, html: str) -> None:
    envelope = build(
        Content(subject=subject, text=text, html=html, headers={"X-Svarfrist-Kind": "due_soon"}),
        recipient="anne@fredericia.dk",
        msg_id="<svarfrist.x.1@fredericia.dk>",
        mail_from="svarfrist@fredericia.dk",
        now=NOW,
    )
    assert envelope.data.isascii()  # 7 bit: any server takes it, no 8BITMIME needed
    assert all(len(line) <= 998 for line in envelope.data.split(b"\r\n"))
    message = _parse(envelope.data)
    assert message.get_content_type() == "multipart/alternative"
    assert not message.defects
    assert _read(message.get_body(("plain",))) == _written(text)
    assert _read(message.get_body(("html",))) == _written(html)
    assert message["X-Svarfrist-Kind"] == "due_soon"


def test_a_report_carries_its_csv_with_a_non_ascii_file_name() -> None:
    envelope = build(
        Content(
            subject="Rapport for november",
            text="tekst",
            html="<p>html</p>",
            headers={},
            attachment=("rapport æøå.csv", "a;b\r\nBørn og Unge;2\r\n"),
        ),
        recipient="leder@fredericia.dk",
        msg_id="<svarfrist.report.1@fredericia.dk>",
        mail_from="svarfrist@fredericia.dk",
        now=NOW,
    )
    message = _parse(envelope.data)
    assert message.get_content_type() == "multipart/mixed"
    [attachment] = list(message.iter_attachments())
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_filename() == "rapport æøå.csv"
    assert _read(attachment) == "a;b\nBørn og Unge;2\n"
    assert _read(message.get_body(("plain",))) == "tekst\n"
