"""When a periodic job is due, and what its runs are called.

A `Rule` says when (local time, weekdays, business days only); each due instant belongs to a
`Period` whose key ("2026-11-27", "2026-W48") names the run in job_runs, so a period runs once
across restarts and processes (bot.scheduler runs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from routing.calendars import check_aware, french_public_holidays

_LOOKBACK_DAYS = 8  # a weekly rule's latest due day is at most 7 days back


@dataclass(frozen=True)
class Rule:
    """When a periodic job is due: `at` local time in `timezone`, on `weekdays` (0 = Monday),
    and, with `business_days`, never on a French public holiday. `period` names the run:
    "day" → "2026-11-27", "week" → ISO week "2026-W48" (of the local date)."""

    at: time
    timezone: str = "Europe/Paris"
    weekdays: frozenset[int] = frozenset(range(7))
    business_days: bool = False
    period: Literal["day", "week"] = "day"

    def runs_on(self, day: date) -> bool:
        if day.weekday() not in self.weekdays:
            return False
        return not (self.business_days and day in french_public_holidays(day.year))

    def due_at(self, day: date) -> datetime:
        """The UTC instant `at` happens on the local `day` (DST-aware)."""
        return datetime.combine(day, self.at, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def key(self, day: date) -> str:
        if self.period == "week":
            iso = day.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        return day.isoformat()

    def due_after(self, key: str, now: datetime, *, days: int) -> list[Period]:
        """The periods due after the one named `key` and at or before `now`, within the last
        `days` local days, oldest first (the latest due one included)."""
        now = check_aware(now, "now")
        today = now.astimezone(ZoneInfo(self.timezone)).date()
        out: dict[str, Period] = {}
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            if self.runs_on(day) and self.due_at(day) <= now and self.key(day) > key:
                out.setdefault(self.key(day), Period(self.key(day), day, self.due_at(day)))
        return list(out.values())

    def latest_due(self, now: datetime) -> Period | None:
        """The most recent run this rule asked for at or before `now`."""
        now = check_aware(now, "now")
        today = now.astimezone(ZoneInfo(self.timezone)).date()
        for back in range(_LOOKBACK_DAYS):
            day = today - timedelta(days=back)
            if self.runs_on(day) and self.due_at(day) <= now:
                return Period(key=self.key(day), day=day, due_at=self.due_at(day))
        return None


@dataclass(frozen=True)
class Period:
    key: str  # job_runs.period_key
    day: date  # the local day the run is for
    due_at: datetime  # UTC
