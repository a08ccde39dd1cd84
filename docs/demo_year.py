"""Write a demo year of inquiries as an import CSV (for docs/make_report_screenshot.sh).

Shaped like the Fredericia annual report (the Fredericia citizen advisors' annual report): most inquiries in Arbejdsmarked og
Borgerservice, most first contacts by phone, about one in seven still open, and replies and
call-backs mostly but not always inside their deadlines. No notes: a demo needs none.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.transfer.csvio import COLUMNS

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
DEPARTMENTS = {
    "Arbejdsmarked og Borgerservice": 59,
    "Voksenservice": 9,
    "Diverse": 8,
    "Familie og Børnesundhed": 7,
    "Teknik og Miljø": 5,
    "Børn og Unge": 5,
    "Pleje og Omsorg": 4,
    "Økonomi og Personale": 2,
    "Kultur og Idræt": 1,
}
CHANNELS = {"phone": 52, "in_person": 18, "email": 16, "digital_post": 8, "sms": 4, "letter": 2}
TOPICS = {
    "Sygedagpengesager i JC": 17,
    "Kontanthjælp": 15,
    "Enkeltydelse": 11,
    "Jobcenter (langtidsledige)": 9,
    "Voksenservice": 8,
    "Uddannelseshjælp": 7,
    "Boligindskudslån": 5,
    "Jobafklaringsforløb": 4,
}
WRITTEN = {"email", "digital_post", "sms", "letter"}
ADVISORS = ["anne@fredericia.dk", "bo@fredericia.dk", "søren@fredericia.dk", "åse@fredericia.dk"]


def pick(rnd: random.Random, weights: dict[str, int]) -> str:
    return rnd.choices(list(weights), weights=list(weights.values()))[0]


def main(path: str, n: int = 2400, year: int = 2025, seed: int = 18) -> None:
    rnd = random.Random(seed)
    start = datetime(year, 1, 2, tzinfo=COPENHAGEN)
    rows = []
    for i in range(n):
        day = start + timedelta(days=rnd.randrange(362))
        if day.weekday() >= 5 and rnd.random() < 0.8:
            day += timedelta(days=7 - day.weekday())  # few weekend inquiries
        received = day.replace(hour=rnd.randrange(8, 16), minute=rnd.randrange(60))
        channel = pick(rnd, CHANNELS)
        callback = rnd.random() < 0.3
        # A busy late summer and December make the compliance trend visible.
        slow = 1.7 if received.month in (7, 8, 12) else 1.0
        replied = called = None
        if channel in WRITTEN:
            replied = received + timedelta(hours=rnd.uniform(0.5, 26 * slow))
        if callback:
            called = received + timedelta(hours=rnd.uniform(1, 52 * slow))
        closed = None
        if rnd.random() > 0.14:
            closed = received + timedelta(days=rnd.uniform(2.5 * slow, 60))
        rows.append(
            [
                f"BV-{year}-{i + 1:04d}",
                received.isoformat(timespec="minutes"),
                channel,
                pick(rnd, DEPARTMENTS),
                pick(rnd, TOPICS),
                rnd.choice(ADVISORS),
                "ja" if callback else "nej",
                replied.isoformat(timespec="minutes") if replied else "",
                called.isoformat(timespec="minutes") if called else "",
                closed.isoformat(timespec="minutes") if closed else "",
                "",
                "",
            ]
        )
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        # The leading columns it fills (the import reads an absent column as empty): the
        # whole COLUMNS list gave every row too few fields once columns were added to it.
        writer.writerow(COLUMNS[: len(rows[0])])
        writer.writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1])
