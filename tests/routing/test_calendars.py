"""Business time on the operator's calendar: weekends, French holidays, DST, and its wording."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from routing.calendars import (
    AroundTheClock,
    BusinessCalendar,
    easter_sunday,
    french_public_holidays,
    humanize_deadline,
)

PARIS = ZoneInfo("Europe/Paris")
H = timedelta(hours=1)
NINE_TO_SIX = {wd: [(time(9), time(18))] for wd in range(5)}


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """The UTC instant of a Paris wall-clock time."""
    return datetime(y, mo, d, h, mi, tzinfo=PARIS).astimezone(UTC)


def local(at: datetime) -> tuple[int, int, int, int, int]:
    t = at.astimezone(PARIS)
    return (t.year, t.month, t.day, t.hour, t.minute)


@pytest.fixture(scope="module")
def office() -> BusinessCalendar:
    return BusinessCalendar("Europe/Paris", NINE_TO_SIX)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (1818, date(1818, 3, 22)),  # earliest possible
        (1943, date(1943, 4, 25)),  # latest possible
        (2000, date(2000, 4, 23)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
    ],
)
def test_easter_by_the_anonymous_gregorian_algorithm(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_french_public_holidays_2026() -> None:
    assert list(french_public_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Whit Monday
        date(2026, 7, 14),
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 25),
    ]
    # In 2008 Ascension fell on 1 May: one date, two reasons.
    assert len(french_public_holidays(2008)) == 10


def test_friday_afternoon_two_hours_lands_monday_ten(office: BusinessCalendar) -> None:
    done = office.add(paris(2026, 1, 9, 17), 2 * H)
    assert local(done) == (2026, 1, 12, 10, 0)
    assert done.tzinfo is UTC


def test_a_ticket_at_eight_pm_starts_at_the_next_opening(office: BusinessCalendar) -> None:
    evening = paris(2026, 1, 13, 20)  # Tuesday
    assert not office.is_open(evening)
    assert local(office.next_opening(evening)) == (2026, 1, 14, 9, 0)
    assert local(office.add(evening, 2 * H)) == (2026, 1, 14, 11, 0)
    assert office.elapsed(evening, paris(2026, 1, 14, 9)) == timedelta(0)


def test_weekend_is_closed(office: BusinessCalendar) -> None:
    saturday = paris(2026, 1, 10, 10)
    assert not office.is_open(saturday)
    assert local(office.next_opening(saturday)) == (2026, 1, 12, 9, 0)
    assert local(office.add(saturday, H)) == (2026, 1, 12, 10, 0)
    assert office.elapsed(paris(2026, 1, 9, 18), paris(2026, 1, 12, 9)) == timedelta(0)
    assert office.elapsed(paris(2026, 1, 9, 12), paris(2026, 1, 12, 12)) == (6 + 3) * H


def test_opening_and_closing_edges(office: BusinessCalendar) -> None:
    assert office.is_open(paris(2026, 1, 12, 9))
    assert not office.is_open(paris(2026, 1, 12, 18))
    assert office.next_opening(paris(2026, 1, 12, 11)) == paris(2026, 1, 12, 11)
    # Using up the day exactly ends at closing time, not at the next morning's opening.
    assert local(office.add(paris(2026, 1, 12, 17), H)) == (2026, 1, 12, 18, 0)
    assert office.add(paris(2026, 1, 12, 11), timedelta(0)) == paris(2026, 1, 12, 11)


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        # Wednesday before Ascension (Thursday 14 May) → Friday.
        ((2026, 5, 13, 17), (2026, 5, 15, 10, 0)),
        # Friday before Whit Monday (25 May) → Tuesday.
        ((2026, 5, 22, 17), (2026, 5, 26, 10, 0)),
        # Monday 13 July → Wednesday, over Bastille Day.
        ((2026, 7, 13, 17), (2026, 7, 15, 10, 0)),
        # Thursday 2 April → Tuesday 7 April, over the weekend and Easter Monday.
        ((2026, 4, 3, 17), (2026, 4, 7, 10, 0)),
    ],
)
def test_french_public_holidays_are_closed(
    office: BusinessCalendar, start: tuple[int, ...], deadline: tuple[int, ...]
) -> None:
    assert local(office.add(paris(*start), 2 * H)) == deadline


def test_extra_holidays_and_holidays_switched_off() -> None:
    closing = BusinessCalendar("Europe/Paris", NINE_TO_SIX, holidays=[date(2026, 12, 24)])
    # 24 Dec (extra), 25 Dec (Christmas), then the weekend.
    assert local(closing.add(paris(2026, 12, 23, 17), 2 * H)) == (2026, 12, 28, 10, 0)
    open_on_bastille_day = BusinessCalendar("Europe/Paris", NINE_TO_SIX, french_holidays=False)
    assert local(open_on_bastille_day.add(paris(2026, 7, 13, 17), 2 * H)) == (2026, 7, 14, 10, 0)


def test_several_intervals_a_day() -> None:
    lunch = BusinessCalendar(
        "Europe/Paris", {wd: [(time(9), time(12, 30)), (time(13, 30), time(18))] for wd in range(5)}
    )
    assert lunch.business_day == 8 * H
    assert local(lunch.add(paris(2026, 1, 12, 12), H)) == (2026, 1, 12, 14, 0)
    assert not lunch.is_open(paris(2026, 1, 12, 12, 45))
    assert local(lunch.next_opening(paris(2026, 1, 12, 12, 45))) == (2026, 1, 12, 13, 30)
    assert lunch.elapsed(paris(2026, 1, 12, 9), paris(2026, 1, 12, 18)) == 8 * H


@pytest.mark.parametrize(
    ("friday", "monday"),
    [((2026, 3, 27), (2026, 3, 30)), ((2026, 10, 23), (2026, 10, 26))],
    ids=["spring-forward-29-march", "fall-back-25-october"],
)
def test_business_hours_across_dst(
    office: BusinessCalendar, friday: tuple[int, int, int], monday: tuple[int, int, int]
) -> None:
    # The business day stays 09:00–18:00 local on both sides of the change.
    assert local(office.add(paris(*friday, 17), 2 * H)) == (*monday, 10, 0)
    assert office.elapsed(paris(*friday, 9), paris(*monday, 18)) == 18 * H
    assert office.elapsed(paris(*monday, 9), paris(*monday, 18)) == 9 * H
    assert office.next_opening(paris(*friday, 19)) == paris(*monday, 9)


def test_a_calendar_open_all_day_counts_the_real_hours_of_dst_days() -> None:
    always = BusinessCalendar(
        "Europe/Paris", {wd: [(time(0), time(0))] for wd in range(7)}, french_holidays=False
    )
    assert always.elapsed(paris(2026, 3, 29), paris(2026, 3, 30)) == 23 * H
    assert always.elapsed(paris(2026, 10, 25), paris(2026, 10, 26)) == 25 * H
    assert always.business_day == 24 * H


@pytest.mark.parametrize(
    ("start", "after_24h"),
    [
        ((2026, 3, 28, 12), (2026, 3, 29, 13, 0)),  # a 23-hour local day
        ((2026, 10, 24, 12), (2026, 10, 25, 11, 0)),  # a 25-hour local day
    ],
)
def test_around_the_clock_counts_real_hours_across_dst(
    start: tuple[int, ...], after_24h: tuple[int, ...]
) -> None:
    clock = AroundTheClock()
    begin = paris(*start)
    done = clock.add(begin, 24 * H)
    assert local(done) == after_24h
    assert done - begin == 24 * H
    assert clock.elapsed(begin, done) == 24 * H
    assert clock.add_business_days(begin, 1) == done
    assert clock.is_open(begin)
    assert clock.next_opening(begin) == begin


def test_business_days_are_the_calendar_business_day(office: BusinessCalendar) -> None:
    assert office.business_day == 9 * H
    assert local(office.add_business_days(paris(2026, 1, 12, 11), 1)) == (2026, 1, 13, 11, 0)
    assert local(office.add_business_days(paris(2026, 1, 9, 17), 1)) == (2026, 1, 12, 17, 0)
    # Level 2 resolution from a Monday evening: three full days, Tuesday to Thursday.
    monday_evening = paris(2026, 1, 12, 20)
    three = office.add_business_days(monday_evening, 3)
    assert local(three) == (2026, 1, 15, 18, 0)
    assert three == office.add(monday_evening, 27 * H)
    assert office.elapsed(monday_evening, three) == 3 * office.business_day
    assert office.add_business_days(monday_evening, 0) == monday_evening
    # An explicit business day overrides the usual day's length.
    short = BusinessCalendar("Europe/Paris", NINE_TO_SIX, business_day=7 * H)
    assert local(short.add_business_days(paris(2026, 1, 12, 9), 1)) == (2026, 1, 12, 16, 0)


def test_long_durations_skip_whole_weeks(office: BusinessCalendar) -> None:
    start = paris(2026, 1, 5, 9)  # Monday
    # 2026 has 252 working days on Mon–Fri (261 weekdays, 9 holidays on weekdays).
    end_of_year = office.add(start, 251 * 9 * H)
    assert local(end_of_year) == (2026, 12, 31, 18, 0)
    assert office.elapsed(start, end_of_year) == 251 * 9 * H
    assert office.elapsed(paris(2026, 1, 1), paris(2027, 1, 1)) == 252 * 9 * H


def test_bad_input_is_refused(office: BusinessCalendar) -> None:
    naive = datetime(2026, 1, 12, 10)  # noqa: DTZ001 - the point of the test
    aware = paris(2026, 1, 12, 10)
    for calendar in (office, AroundTheClock()):
        with pytest.raises(ValueError, match="naive"):
            calendar.add(naive, H)
        with pytest.raises(ValueError, match="naive"):
            calendar.elapsed(aware, naive)
        with pytest.raises(ValueError, match="naive"):
            calendar.is_open(naive)
        with pytest.raises(ValueError, match="naive"):
            calendar.next_opening(naive)
        with pytest.raises(ValueError, match="negative"):
            calendar.add(aware, -H)
        with pytest.raises(ValueError, match="whole number"):
            calendar.add_business_days(aware, -1)
        # An end before the start has no business time, rather than a negative one.
        assert calendar.elapsed(aware, aware - H) == timedelta(0)
    # Other aware zones are accepted and answered in UTC.
    assert office.add(aware.astimezone(PARIS), H) == paris(2026, 1, 12, 11)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Europe/Pariss"}, "unknown timezone"),
        ({"hours": {}}, "at least one weekday"),
        ({"hours": {7: [(time(9), time(18))]}}, "weekdays are 0"),
        ({"hours": {0: [(time(18), time(9))]}}, "not before"),
        ({"hours": {0: [(time(9), time(13)), (time(12), time(18))]}}, "overlap"),
        ({"business_day": timedelta(0)}, "positive"),
    ],
)
def test_a_calendar_that_makes_no_sense_is_refused(kwargs: dict, message: str) -> None:
    args = {"timezone": "Europe/Paris", "hours": NINE_TO_SIX} | kwargs
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**args)


def test_a_calendar_that_never_opens_says_so() -> None:
    mondays = [date(2026, 1, 5) + timedelta(weeks=n) for n in range(52 * 4)]
    never = BusinessCalendar("Europe/Paris", {0: [(time(9), time(18))]}, holidays=mondays)
    with pytest.raises(ValueError, match="no opening"):
        never.add(paris(2026, 1, 1), H)


# --- properties -------------------------------------------------------------------------

LUNCH = BusinessCalendar(
    "Europe/Paris", {wd: [(time(9), time(12, 30)), (time(13, 30), time(18))] for wd in range(5)}
)
OFFICE = BusinessCalendar("Europe/Paris", NINE_TO_SIX)
SHOP = BusinessCalendar("Europe/Paris", {wd: [(time(10), time(20))] for wd in range(7)})
# Open through the night hours that DST removes or repeats, and until midnight.
NIGHT = BusinessCalendar(
    "Europe/Paris", {wd: [(time(1, 30), time(3)), (time(22), time(0))] for wd in range(7)}
)
CALENDARS = [OFFICE, LUNCH, SHOP, NIGHT]
instants = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2000))


@settings(max_examples=300, deadline=None, database=None)
@given(calendar=st.sampled_from([*CALENDARS, AroundTheClock()]), start=instants, d=durations)
@example(calendar=OFFICE, start=paris(2026, 3, 27, 17), d=2 * H)
@example(calendar=OFFICE, start=paris(2026, 10, 23, 17, 30), d=9 * H)
@example(calendar=NIGHT, start=paris(2026, 3, 28, 23), d=2 * H)
@example(calendar=NIGHT, start=paris(2026, 10, 24, 23), d=4 * H)
def test_elapsed_is_the_inverse_of_add(calendar, start: datetime, d: timedelta) -> None:
    end = calendar.add(start, d)
    assert end >= start
    assert calendar.elapsed(start, end) == d
    # A deadline is reached while open (or at a closing time), never in the middle of a night.
    if d:
        assert calendar.is_open(end - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None, database=None)
@given(calendar=st.sampled_from(CALENDARS), start=instants, span=durations)
def test_add_of_elapsed_comes_back_to_the_last_open_instant(
    calendar: BusinessCalendar, start: datetime, span: timedelta
) -> None:
    end = start + span
    spent = calendar.elapsed(start, end)
    back = calendar.add(start, spent)
    assert back <= end
    assert calendar.elapsed(back, end) == timedelta(0)
    opening = calendar.next_opening(start)
    assert calendar.is_open(opening)
    assert calendar.elapsed(start, opening) == timedelta(0)


def test_night_hours_on_dst_nights_count_what_really_passes() -> None:
    # 01:30–03:00 local is 30 real minutes on 29 March (02:00–03:00 does not exist) and
    # 2 h 30 on 25 October (02:00–03:00 happens twice).
    assert NIGHT.elapsed(paris(2026, 3, 29), paris(2026, 3, 29, 12)) == timedelta(minutes=30)
    assert NIGHT.elapsed(paris(2026, 10, 25), paris(2026, 10, 25, 12)) == timedelta(hours=2.5)
    assert NIGHT.elapsed(paris(2026, 3, 28, 12), paris(2026, 3, 29, 12)) == timedelta(hours=2.5)


def _open_by_the_wall_clock(at: datetime) -> bool:
    """An independent oracle: the brief's rule read straight off the Paris wall clock."""
    t = at.astimezone(PARIS)
    return t.weekday() < 5 and t.date() not in french_public_holidays(t.year) and 9 <= t.hour < 18


@settings(max_examples=60, deadline=None, database=None)
@given(
    start=st.integers(0, 365 * 24 * 4).map(
        lambda q: datetime(2026, 1, 1, tzinfo=UTC) + q * timedelta(minutes=15)
    ),
    quarters=st.integers(0, 27 * 4),
)
@example(start=paris(2026, 3, 27, 16), quarters=12)
@example(start=paris(2026, 10, 23, 16), quarters=12)
def test_add_agrees_with_counting_quarter_hours_on_the_wall_clock(
    start: datetime, quarters: int
) -> None:
    step = timedelta(minutes=15)
    t, left = start, quarters
    while left:
        if _open_by_the_wall_clock(t):
            left -= 1
        t += step
    assert OFFICE.add(start, quarters * step) == (t if quarters else start)
    assert OFFICE.is_open(start) == _open_by_the_wall_clock(start)


# --- wording ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "deadline", "fr", "en"),
    [
        ((2026, 1, 12, 10), (2026, 1, 12, 15), "aujourd'hui avant 15:00", "today by 15:00"),
        ((2026, 1, 12, 10), (2026, 1, 13, 10), "demain avant 10:00", "tomorrow by 10:00"),
        ((2026, 1, 9, 17), (2026, 1, 12, 10), "d'ici lundi 10:00", "by Monday 10:00"),
        ((2026, 1, 12, 10), (2026, 1, 14, 9, 30), "d'ici mercredi 09:30", "by Wednesday 09:30"),
        ((2026, 1, 12, 10), (2026, 1, 18, 10), "d'ici dimanche 10:00", "by Sunday 10:00"),
        # A week or more away: the full date, so "lundi" is never next week's Monday.
        ((2026, 1, 12, 10), (2026, 1, 19, 10), "d'ici le 19 janvier 10:00", "by 19 January 10:00"),
        ((2026, 1, 2, 10), (2026, 1, 12, 10), "d'ici le 12 janvier 10:00", "by 12 January 10:00"),
        ((2026, 7, 20, 10), (2026, 8, 3, 10), "d'ici le 3 août 10:00", "by 3 August 10:00"),
        ((2026, 4, 20, 10), (2026, 5, 1, 10), "d'ici le 1er mai 10:00", "by 1 May 10:00"),
        (
            (2026, 12, 20, 10),
            (2027, 1, 4, 10),
            "d'ici le 4 janvier 2027 10:00",
            "by 4 January 2027 10:00",
        ),
        ((2026, 1, 12, 16), (2026, 1, 12, 15), "dès que possible", "as soon as possible"),
    ],
)
def test_humanize_deadline(
    now: tuple[int, ...], deadline: tuple[int, ...], fr: str, en: str
) -> None:
    kwargs = {"now_utc": paris(*now), "tz": "Europe/Paris"}
    assert humanize_deadline(paris(*deadline), language="fr", **kwargs) == fr  # type: ignore[arg-type]
    assert humanize_deadline(paris(*deadline), language="en", **kwargs) == en  # type: ignore[arg-type]


def test_humanize_reads_in_the_readers_timezone() -> None:
    now = datetime(2026, 1, 12, 10, tzinfo=UTC)
    deadline = datetime(2026, 1, 12, 23, 30, 59, tzinfo=UTC)
    assert humanize_deadline(deadline, now_utc=now, language="fr", tz="Europe/Paris") == (
        "demain avant 00:30"
    )
    assert humanize_deadline(deadline, now_utc=now, language="en", tz="UTC") == "today by 23:30"


def test_humanize_refuses_bad_input() -> None:
    now = paris(2026, 1, 12, 10)
    with pytest.raises(ValueError, match="language"):
        humanize_deadline(now + H, now_utc=now, language="de", tz="Europe/Paris")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown timezone"):
        humanize_deadline(now + H, now_utc=now, language="fr", tz="Paris")
    with pytest.raises(ValueError, match="naive"):
        humanize_deadline(
            datetime(2026, 1, 12, 12),  # noqa: DTZ001
            now_utc=now,
            language="fr",
            tz="Europe/Paris",
        )
