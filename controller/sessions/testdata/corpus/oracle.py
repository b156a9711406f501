#!/usr/bin/python3
"""The oracle for siaprapat's calendar corpus: an independent reader.

    python3 oracle.py FILE FROM TO ZONE

reads FILE with python icalendar and expands it with recurring_ical_events
(Debian: python3-icalendar, python3-recurring-ical-events), then prints the
sessions siaprapat should find, one a line, by start:

    START END SUMMARY        (START and END in UTC, RFC 3339)

It applies siaprapat's rules, not the libraries': a session overlaps
[FROM, TO); all-day events, cancelled events or instances (STATUS:CANCELLED),
and events of no length or longer than 24 hours are not meetings; times
without a zone are in ZONE (the room's zone) unless the calendar has
X-WR-TIMEZONE, which recurring_ical_events applies.
"""
import datetime
import sys

import icalendar
import pytz
import recurring_ical_events

UTC = pytz.utc


def main(path, start, stop, zone):
    start = datetime.datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    stop = datetime.datetime.strptime(stop, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    room = pytz.timezone(zone)
    with open(path, "rb") as f:
        data = f.read()
    # Debian 12's icalendar 4.0.3 refuses a byte order mark; later
    # versions (and siaprapat) skip it (icalendar's bom_calendar.ics).
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    cal = icalendar.Calendar.from_ical(data)
    margin = datetime.timedelta(days=2)
    out = set()
    for ev in recurring_ical_events.of(cal).between(start - margin, stop + margin):
        s, e = ev["DTSTART"].dt, ev["DTEND"].dt
        if not isinstance(s, datetime.datetime):
            continue  # all day
        if str(ev.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if s.tzinfo is None:
            s, e = room.localize(s), room.localize(e)
        s, e = s.astimezone(UTC), e.astimezone(UTC)
        if not (datetime.timedelta(0) < e - s <= datetime.timedelta(hours=24)):
            continue
        if e > start and s < stop:
            title = str(ev.get("SUMMARY", "")).strip() or "(no title)"
            out.add((s.strftime("%Y-%m-%dT%H:%M:%SZ"), e.strftime("%Y-%m-%dT%H:%M:%SZ"), title))
    for line in sorted(out):
        print(" ".join(line))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
