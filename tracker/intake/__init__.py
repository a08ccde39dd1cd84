"""Mail intake: a mailbox read over IMAP becomes inquiries, acknowledgements and fulfilments.

``parse`` (pure: header bytes in, a :class:`~tracker.intake.parse.Mail` and a verdict out),
``imap`` (the thin IMAPClient adapter), ``process`` (one round: read, decide, write, move),
``acknowledge`` (the acknowledgements, sent from the outbox), ``loop`` (``--once`` and the
daemon's continuous reading with IDLE and backoff).
"""
