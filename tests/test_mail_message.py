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


def _subject_lines(data: bytes) -> list[bytes]:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.startswith(b"Subject: "))
    end = start + 1
    while end < len(head) and head[end][:1] in (b" ", b"\t"):
        end += 1
    return head[start:end]


def _built(subject: str) -> bytes:
    content = Content(subject=subject, text="x", html="<p>x</p>", headers={})
    return build(
        content,
        recipient="anne@fredericia.dk",
        msg_id="<svarfrist.x.1@fredericia.dk>",
        mail_from="svarfrist@fredericia.dk",
        now=NOW,
    ).data


def test_a_reminders_subject_carries_no_empty_encoded_word() -> None:
    # The stdlib's folder wrote "... Borgerservice) =?utf-8?q??=" and the dash on the next
    # line: an empty encoded word, which RFC 2047 forbids and some readers show as it is.
    subject = (
        "Svarfrist: 2026-000001 (Arbejdsmarked og Borgerservice) – frist for kvittering "
        "mandag 30. november 2026 kl. 12:00"
    )
    data = _built(subject)
    lines = _subject_lines(data)
    assert not any(b"??=" in line for line in lines), lines
    assert all(len(line) <= 78 for line in lines), lines
    assert _parse(data)["Subject"] == subject


def test_a_subject_keeps_the_space_between_words_at_a_fold() -> None:
    # CPython 3.11's folder left the space between "for" and "opfølgning" outside the two
    # encoded words on either side of the fold, and readers ignore white space between
    # encoded words: the subject read "frist foropfølgning".
    subject = (
        "Svarfrist: 2026-000001 (Økonomi) – frist for opfølgning på sag "
        "mandag 30. november 2026 kl. 12:00"
    )
    data = _built(subject)
    assert all(len(line) <= 78 for line in _subject_lines(data))
    assert _parse(data)["Subject"] == subject


_WORD = st.text(alphabet=st.sampled_from("abcdefghij0123456789().:-æøåÆØÅ–"), min_size=1)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(_WORD | st.sampled_from(["a" * 40, "ø" * 30]), min_size=1, max_size=30))
def test_a_subject_of_any_words_reads_back_as_it_was_written(words: list[str]) -> None:
    subject = " ".join(words)
    data = _built(subject)
    lines = _subject_lines(data)
    assert not any(b"??=" in line for line in lines), lines
    assert all(len(line) <= 78 for line in lines), lines
    assert _parse(data)["Subject"] == subject
