"""Business time: opening-hours calendars, French public holidays, and how a deadline reads.

Every function takes timezone-aware datetimes and answers in UTC; a calendar's own zone is
used only inside, to know when each local day opens and closes. Business time is real
elapsed time inside the opening intervals, so 09:00–18:00 is 9 hours on every day of the
year, daylight saving or not, and 24/7 durations count the hours that really pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_ONE_WEEK = timedelta(days=7)
# Midnight as a closing time means the end of the day ("24:00").
MIDNIGHT = time(0)
# No real calendar stays closed this long (the longest run of French holidays and
# weekends is 4 days); more means the opening hours and holidays leave nothing open.
_MAX_CLOSED_DAYS = 3 * 366
_CACHE_LIMIT = 20_000

Interval = tuple[time, time]


def check_aware(value: datetime, name: str) -> datetime:
    """The same instant in UTC; a naive datetime is refused, since its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime; give a timezone-aware UTC datetime")
    return value.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown timezone {name!r} (expected an IANA name such as 'Europe/Paris')"
        ) from exc


def _check_duration(duration: timedelta) -> None:
    if duration < ZERO:
        raise ValueError(f"a business duration cannot be negative, got {duration}")


def _check_days(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"business days must be a whole number ≥ 0, got {n!r}")


def easter_sunday(year: int) -> date:
    """Western Easter, by the Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month, day = divmod(h + ll - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=512)
def french_public_holidays(year: int) -> Mapping[date, str]:
    """The eleven national public holidays of metropolitan France (Alsace-Moselle adds two:
    list them as extra holidays). Two may fall on the same date (Ascension on 1 May in 2008)."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Jour de l'an",
        easter + timedelta(days=1): "Lundi de Pâques",
        date(year, 5, 1): "Fête du Travail",
        date(year, 5, 8): "Victoire 1945",
        easter + timedelta(days=39): "Ascension",
        easter + timedelta(days=50): "Lundi de Pentecôte",
        date(year, 7, 14): "Fête nationale",
        date(year, 8, 15): "Assomption",
        date(year, 11, 1): "Toussaint",
        date(year, 11, 11): "Armistice 1918",
        date(year, 12, 25): "Noël",
    }
    return MappingProxyType(dict(sorted(days.items())))


class Calendar(Protocol):
    """What an SLA clock needs from a calendar. All instants are timezone-aware; results are UTC."""

    @property
    def business_day(self) -> timedelta:
        """How much business time "1 business day" is on this calendar."""
        ...

    def is_open(self, at: datetime) -> bool: ...

    def next_opening(self, at: datetime) -> datetime: ...

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...

    def add_business_days(self, start: datetime, n: int) -> datetime: ...


@dataclass(frozen=True)
class AroundTheClock:
    """Always open. Durations are real elapsed time (24 h across a DST change is 24 real hours),
    and one business day is 24 hours."""

    business_day: timedelta = timedelta(hours=24)

    def is_open(self, at: datetime) -> bool:
        check_aware(at, "at")
        return True

    def next_opening(self, at: datetime) -> datetime:
        return check_aware(at, "at")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        start = check_aware(start, "start")
        _check_duration(duration)
        return start + duration

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Real time from start to end; zero when end is not after start."""
        return max(ZERO, check_aware(end, "end") - check_aware(start, "start"))

    def add_business_days(self, start: datetime, n: int) -> datetime:
        _check_days(n)
        return self.add(start, n * self.business_day)


def _minutes(t: time, *, closing: bool) -> int:
    if closing and t == MIDNIGHT:
        return 24 * 60
    return t.hour * 60 + t.minute


class BusinessCalendar:
    """Weekly opening hours in one timezone, minus holidays.

    `hours` maps a weekday (0 = Monday … 6 = Sunday) to its opening intervals, in order and
    not overlapping, e.g. ``{0: [(time(9), time(12, 30)), (time(13, 30), time(18))], ...}``;
    a missing weekday is closed, and a closing time of 00:00 means midnight at the end of the
    day. A holiday is either in `holidays` or, with `french_holidays`, a French public holiday.

    One business day is, unless given, the opening time of the usual open day (the most
    common daily total, the longest on a tie): 9 h for 09:00–18:00. So "1 business day" is
    exactly `add(start, business_day)`: from Monday 11:00 it ends Tuesday 11:00, and from a
    Friday 17:00 it ends Monday 17:00.
    """

    def __init__(
        self,
        timezone: str,
        hours: Mapping[int, Sequence[Interval]],
        *,
        holidays: Iterable[date] = (),
        french_holidays: bool = True,
        business_day: timedelta | None = None,
    ) -> None:
        self.timezone = timezone
        self._zone = zone(timezone)
        unknown = set(hours) - set(range(7))
        if unknown:
            raise ValueError(f"weekdays are 0 (Monday) to 6 (Sunday), got {sorted(unknown)}")
        self.hours: dict[int, tuple[Interval, ...]] = {
            wd: self._checked(wd, hours.get(wd, ())) for wd in range(7)
        }
        totals = [self._nominal(ivs) for ivs in self.hours.values() if ivs]
        if not totals:
            raise ValueError("a business calendar needs opening hours on at least one weekday")
        if business_day is None:
            business_day = max(totals, key=lambda t: (totals.count(t), t))
        elif business_day <= ZERO:
            raise ValueError(f"a business day must be a positive duration, got {business_day}")
        self._business_day = business_day
        self.holidays = frozenset(holidays)
        for day in self.holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"a holiday is a date, got {day!r}")
        self.french_holidays = french_holidays
        # Each local date's opening intervals as UTC instants, computed once: the DST
        # arithmetic happens here and nowhere else.
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._weeks: dict[date, timedelta] = {}

    @staticmethod
    def _checked(weekday: int, intervals: Sequence[Interval]) -> tuple[Interval, ...]:
        previous_end = -1
        for opening, closing in intervals:
            lo, hi = _minutes(opening, closing=False), _minutes(closing, closing=True)
            for t in (opening, closing):
                if t.second or t.microsecond or t.tzinfo is not None:
                    raise ValueError(
                        f"weekday {weekday}: opening hours are local whole minutes, got {t}"
                    )
            if lo >= hi:
                raise ValueError(
                    f"weekday {weekday}: {opening:%H:%M} is not before {closing:%H:%M}"
                )
            if lo < previous_end:
                raise ValueError(f"weekday {weekday}: intervals overlap or are out of order")
            previous_end = hi
        return tuple(intervals)

    @staticmethod
    def _nominal(intervals: Sequence[Interval]) -> timedelta:
        minutes = sum(_minutes(c, closing=True) - _minutes(o, closing=False) for o, c in intervals)
        return timedelta(minutes=minutes)

    @property
    def business_day(self) -> timedelta:
        return self._business_day

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.timezone!r}, business_day={self._business_day})"

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (
            self.french_holidays and day in french_public_holidays(day.year)
        )

    def _intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        cached = self._days.get(day)
        if cached is None:
            cached = self._compute(day)
            if len(self._days) >= _CACHE_LIMIT:
                self._days.clear()
            self._days[day] = cached
        return cached

    def _compute(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        if self.is_holiday(day):
            return ()
        out = []
        for opening, closing in self.hours[day.weekday()]:
            lo = datetime.combine(day, opening, tzinfo=self._zone).astimezone(UTC)
            end_day = day + _ONE_DAY if closing == MIDNIGHT else day
            hi = datetime.combine(end_day, closing, tzinfo=self._zone).astimezone(UTC)
            # An interval inside the spring-forward gap does not exist that day.
            if hi > lo:
                out.append((lo, hi))
        return tuple(out)

    def _week_total(self, monday: date) -> timedelta:
        total = self._weeks.get(monday)
        if total is None:
            total = sum(
                (
                    hi - lo
                    for offset in range(7)
                    for lo, hi in self._intervals(monday + timedelta(days=offset))
                ),
                ZERO,
            )
            if len(self._weeks) >= _CACHE_LIMIT:
                self._weeks.clear()
            self._weeks[monday] = total
        return total

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self._zone).date()

    def is_open(self, at: datetime) -> bool:
        at = check_aware(at, "at")
        return any(lo <= at < hi for lo, hi in self._intervals(self._local_date(at)))

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when open, else the start of the next opening interval."""
        at = check_aware(at, "at")
        day = self._local_date(at)
        for _ in range(_MAX_CLOSED_DAYS):
            for lo, hi in self._intervals(day):
                if at < hi:
                    return max(lo, at)
            day += _ONE_DAY
        raise ValueError(f"{self!r} has no opening within {_MAX_CLOSED_DAYS} days of {at}")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which `duration` of business time has passed since `start`.

        A clock started while closed starts at the next opening; a deadline that uses up an
        interval exactly lands on its closing time (Friday 18:00), not the next opening.
        A zero duration returns `start` itself."""
        start = check_aware(start, "start")
        _check_duration(duration)
        if not duration:
            return start
        remaining = duration
        day = self._local_date(start)
        first_day = day
        closed_run = 0
        while closed_run < _MAX_CLOSED_DAYS:
            # Whole weeks after the first day are skipped in one step: long targets cost
            # a few dictionary look-ups, not one loop turn per day.
            if day.weekday() == 0 and day > first_day:
                week = self._week_total(day)
                if week and remaining > week:
                    remaining -= week
                    day += _ONE_WEEK
                    closed_run = 0
                    continue
            intervals = self._intervals(day)
            for lo, hi in intervals:
                if hi <= start:
                    continue
                begin = max(lo, start)
                available = hi - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            closed_run = 0 if intervals else closed_run + 1
            day += _ONE_DAY
        raise ValueError(f"{self!r} has no opening within {_MAX_CLOSED_DAYS} days")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; zero when end is not after start."""
        start, end = check_aware(start, "start"), check_aware(end, "end")
        total = ZERO
        if end <= start:
            return total
        first_day = day = self._local_date(start)
        last = self._local_date(end)
        while day <= last:
            if day.weekday() == 0 and first_day < day and day + _ONE_WEEK <= last:
                total += self._week_total(day)
                day += _ONE_WEEK
                continue
            for lo, hi in self._intervals(day):
                overlap = min(hi, end) - max(lo, start)
                if overlap > ZERO:
                    total += overlap
            day += _ONE_DAY
        return total

    def add_business_days(self, start: datetime, n: int) -> datetime:
        """`add(start, n × business_day)`: see the class docstring for why."""
        _check_days(n)
        return self.add(start, n * self._business_day)


# How a seller reads "when a human will answer". Day and month names are spelled out here
# so the wording never depends on the server's locale.
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def humanize_deadline(
    deadline_utc: datetime, *, now_utc: datetime, language: Literal["fr", "en"], tz: str
) -> str:
    """A deadline as the reader says it, in their timezone: "aujourd'hui avant 15:00",
    "demain avant 10:00", "d'ici lundi 10:00" within the week, "d'ici le 12 janvier 10:00"
    beyond (with the year when it is not this year); "today by 15:00", "tomorrow by 10:00",
    "by Monday 10:00", "by 12 January 10:00" in English. A deadline already passed reads
    "dès que possible" / "as soon as possible". Minutes are cut, never rounded up."""
    if language not in ("fr", "en"):
        raise ValueError(f"language must be 'fr' or 'en', got {language!r}")
    deadline = check_aware(deadline_utc, "deadline_utc")
    now = check_aware(now_utc, "now_utc")
    where = zone(tz)
    local = deadline.astimezone(where)
    days = (local.date() - now.astimezone(where).date()).days
    clock = f"{local.hour:02d}:{local.minute:02d}"
    fr = language == "fr"
    if deadline <= now:
        return "dès que possible" if fr else "as soon as possible"
    if days == 0:
        return f"aujourd'hui avant {clock}" if fr else f"today by {clock}"
    if days == 1:
        return f"demain avant {clock}" if fr else f"tomorrow by {clock}"
    if days < 7:
        weekday = local.weekday()
        return f"d'ici {_FR_DAYS[weekday]} {clock}" if fr else f"by {_EN_DAYS[weekday]} {clock}"
    year = "" if local.year == now.astimezone(where).year else f" {local.year}"
    if fr:
        day = "1er" if local.day == 1 else str(local.day)
        return f"d'ici le {day} {_FR_MONTHS[local.month - 1]}{year} {clock}"
    return f"by {local.day} {_EN_MONTHS[local.month - 1]}{year} {clock}"
