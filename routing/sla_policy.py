"""The SLA policy: per support level, each target's time and calendar, when the warning fires,
and who hears of a breach. Read from YAML (routing/sla_defaults.yaml by default)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from routing.calendars import (
    ZERO,
    AroundTheClock,
    BusinessCalendar,
    Calendar,
    Interval,
    check_aware,
)

TARGET_NAMES = ("first_response", "next_response", "resolution")
ROLES = ("helpdesk_lead", "account_manager", "head_of_marketplace")
LEVELS = (1, 2, 3)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_SOURCE = "routing/sla_defaults.yaml"


class PolicyError(ValueError):
    """A policy file is malformed; the message names the file, the key and what was expected."""


class UnknownLevelError(ValueError):
    """No SLA is configured for this support level."""


class UnknownTargetError(ValueError):
    """No SLA target of that name (first_response, next_response, resolution)."""


@dataclass(frozen=True)
class Target:
    """One SLA target: either a duration or a number of business days, on a calendar."""

    name: str
    calendar_name: str
    calendar: Calendar = field(compare=False, repr=False)
    duration: timedelta | None = None
    business_days: int | None = None

    def __post_init__(self) -> None:
        if (self.duration is None) == (self.business_days is None):
            raise ValueError(f"target {self.name}: give a duration or business days, not both")

    @property
    def budget(self) -> timedelta:
        """The target as business time on its calendar (n business days = n × business_day)."""
        if self.duration is not None:
            return self.duration
        assert self.business_days is not None
        return self.business_days * self.calendar.business_day

    def deadline(self, start: datetime, *, consumed: timedelta = ZERO) -> datetime:
        """When the target is breached for a clock (re)started at `start` that had already
        used `consumed` business time before a pause; `start` itself if nothing is left."""
        return self.calendar.add(start, max(ZERO, self.budget - consumed))

    def warning_at(
        self, start: datetime, *, fraction: float, consumed: timedelta = ZERO
    ) -> datetime:
        """When `fraction` of the target's business time has elapsed, on the same calendar."""
        return self.calendar.add(start, max(ZERO, self.budget * fraction - consumed))


@dataclass(frozen=True)
class LevelPolicy:
    level: int
    targets: Mapping[str, Target]
    escalation: tuple[str, ...]


@dataclass(frozen=True)
class SlaPolicy:
    calendars: Mapping[str, Calendar]
    levels: Mapping[int, LevelPolicy]
    warning_fraction: float = 0.75

    def _level(self, level: int) -> LevelPolicy:
        found = self.levels.get(level) if isinstance(level, int) else None
        if found is None:
            known = ", ".join(str(n) for n in sorted(self.levels))
            raise UnknownLevelError(f"no SLA for level {level!r}; configured levels: {known}")
        return found

    def targets(self, level: int) -> dict[str, Target]:
        return dict(self._level(level).targets)

    def target(self, level: int, target: str) -> Target:
        targets = self._level(level).targets
        if target not in targets:
            raise UnknownTargetError(
                f"no SLA target {target!r} for level {level}; targets: {', '.join(targets)}"
            )
        return targets[target]

    def deadline(
        self, level: int, target: str, start: datetime, *, consumed: timedelta = ZERO
    ) -> datetime:
        """UTC instant at which `target` is breached for a clock started at `start`; for a clock
        resumed after a pause, pass the business time it had `consumed` before."""
        return self.target(level, target).deadline(check_aware(start, "start"), consumed=consumed)

    def warning_at(
        self, level: int, target: str, start: datetime, *, consumed: timedelta = ZERO
    ) -> datetime:
        """UTC instant at which `warning_fraction` (75 %) of the target's business time has
        elapsed, counted on the target's own calendar."""
        return self.target(level, target).warning_at(
            check_aware(start, "start"), fraction=self.warning_fraction, consumed=consumed
        )

    def escalation(self, level: int) -> list[str]:
        """Roles told of a breach at this level, in order."""
        return list(self._level(level).escalation)


def load_policy(path: Path | None = None) -> SlaPolicy:
    """Read a policy file (the packaged defaults when `path` is None). Raises PolicyError
    naming the key and what was expected when the file is malformed."""
    if path is None:
        text = resources.files("routing").joinpath("sla_defaults.yaml").read_text("utf-8")
        source = DEFAULT_SOURCE
    else:
        text, source = Path(path).read_text("utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2026-13-01
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    return policy_from_mapping(data, source=source)


def policy_from_mapping(data: Any, *, source: str = "<policy>") -> SlaPolicy:
    """Build a policy from already-parsed data (what `load_policy` reads from YAML)."""
    return _Reader(source).policy(data)


_DURATION = re.compile(r"^(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?$")
_BUSINESS_DAYS = re.compile(r"^(?P<n>\d+)\s+business\s+days?$")
_INTERVAL = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")
_DURATION_HINT = "a positive duration such as '2h', '30m', '1h30m' or '3 business days'"


def _duration(text: Any) -> timedelta | None:
    """'2h', '30m', '1h30m' as a positive timedelta; None for anything else."""
    match = _DURATION.match(text.strip().lower()) if isinstance(text, str) else None
    if match is None or not (match["h"] or match["m"]):
        return None
    found = timedelta(hours=int(match["h"] or 0), minutes=int(match["m"] or 0))
    return found or None


def _level_number(key: Any) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    return None


class _Reader:
    """Turns parsed YAML into a policy, failing with the dotted key where it went wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, got: Any) -> PolicyError:
        return PolicyError(f"{self.source}: {where}: expected {expected}, got {got!r}")

    def mapping(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(where or "top level", "a mapping", value)
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}" if where else str(unknown[0]),
                f"one of the keys {', '.join(allowed)}",
                unknown[0],
            )
        return value

    def required(self, value: dict[Any, Any], key: str, where: str) -> Any:
        if key not in value:
            raise PolicyError(f"{self.source}: {where}: missing key {key!r}")
        return value[key]

    def policy(self, data: Any) -> SlaPolicy:
        data = self.mapping(data, "", ("warning_fraction", "calendars", "levels"))
        fraction = data.get("warning_fraction", 0.75)
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise self.fail("warning_fraction", "a number between 0 and 1", fraction)
        if not 0 < fraction < 1:
            raise self.fail("warning_fraction", "a number between 0 and 1 (0.75 = 75 %)", fraction)
        raw_calendars = self.required(data, "calendars", "top level")
        if not isinstance(raw_calendars, dict) or not raw_calendars:
            raise self.fail("calendars", "a mapping of calendar names", raw_calendars)
        calendars = {
            str(name): self.calendar(spec, f"calendars.{name}")
            for name, spec in raw_calendars.items()
        }
        raw_levels = self.required(data, "levels", "top level")
        if not isinstance(raw_levels, dict):
            raise self.fail("levels", "a mapping from level (1, 2, 3) to its targets", raw_levels)
        by_number: dict[int, LevelPolicy] = {}
        for key, spec in raw_levels.items():
            number = _level_number(key)
            if number not in LEVELS:
                raise self.fail(f"levels.{key}", "levels 1, 2 and 3 only", key)
            if number in by_number:
                raise self.fail(f"levels.{key}", "each level once", key)
            by_number[number] = self.level(number, spec, calendars)
        missing = [n for n in LEVELS if n not in by_number]
        if missing:
            raise PolicyError(f"{self.source}: levels: missing level {missing[0]}")
        return SlaPolicy(calendars=calendars, levels=by_number, warning_fraction=float(fraction))

    def calendar(self, spec: Any, where: str) -> Calendar:
        kind = self.required(self.mapping(spec, where, _CALENDAR_KEYS), "type", where)
        if kind == "around_the_clock":
            self.mapping(spec, where, ("type",))
            return AroundTheClock()
        if kind != "business_hours":
            raise self.fail(f"{where}.type", "'business_hours' or 'around_the_clock'", kind)
        timezone = self.required(spec, "timezone", where)
        if not isinstance(timezone, str):
            raise self.fail(
                f"{where}.timezone", "an IANA timezone name such as 'Europe/Paris'", timezone
            )
        hours = self.hours(self.required(spec, "hours", where), f"{where}.hours")
        french = spec.get("french_public_holidays", True)
        if not isinstance(french, bool):
            raise self.fail(f"{where}.french_public_holidays", "true or false", french)
        holidays = self.holidays(spec.get("holidays") or [], f"{where}.holidays")
        business_day = None
        if "business_day" in spec:
            business_day = self.duration(spec["business_day"], f"{where}.business_day")
        try:
            return BusinessCalendar(
                timezone,
                hours,
                holidays=holidays,
                french_holidays=french,
                business_day=business_day,
            )
        except ValueError as exc:
            raise PolicyError(f"{self.source}: {where}: {exc}") from exc

    def hours(self, spec: Any, where: str) -> dict[int, list[Interval]]:
        spec = self.mapping(spec, where, WEEKDAYS)
        hours: dict[int, list[Interval]] = {}
        for day, intervals in spec.items():
            if intervals is None:
                intervals = []
            if not isinstance(intervals, list):
                raise self.fail(f"{where}.{day}", "a list like ['09:00-18:00']", intervals)
            hours[WEEKDAYS.index(day)] = [
                self.interval(text, f"{where}.{day}") for text in intervals
            ]
        return hours

    def interval(self, text: Any, where: str) -> Interval:
        match = _INTERVAL.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise self.fail(where, "opening hours as 'HH:MM-HH:MM' (in quotes)", text)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise self.fail(where, "times from 00:00 to 24:00", text)
        # 24:00 is midnight at the end of the day, which the calendar spells time(0).
        return time(h1, m1), time(0 if h2 == 24 else h2, m2)

    def holidays(self, spec: Any, where: str) -> list[date]:
        if not isinstance(spec, list):
            raise self.fail(where, "a list of dates (YYYY-MM-DD)", spec)
        days = []
        for item in spec:
            if isinstance(item, date) and not isinstance(item, datetime):
                days.append(item)
                continue
            try:
                days.append(date.fromisoformat(item))
            except (TypeError, ValueError):
                raise self.fail(where, "dates as YYYY-MM-DD", item) from None
        return days

    def duration(self, text: Any, where: str) -> timedelta:
        found = _duration(text)
        if found is None:
            raise self.fail(where, "a positive duration such as '9h' or '7h30m'", text)
        return found

    def target(
        self,
        name: str,
        spec: Any,
        calendar_name: str,
        calendars: dict[str, Calendar],
        where: str,
    ) -> Target:
        if isinstance(spec, dict):
            spec = self.mapping(spec, where, ("target", "calendar"))
            calendar_name = self.calendar_name(
                spec.get("calendar", calendar_name), calendars, f"{where}.calendar"
            )
            spec = self.required(spec, "target", where)
        calendar = calendars[calendar_name]
        days = _BUSINESS_DAYS.match(spec.strip().lower()) if isinstance(spec, str) else None
        if days and int(days["n"]) > 0:
            return Target(name, calendar_name, calendar, business_days=int(days["n"]))
        duration = _duration(spec)
        if duration is None:
            raise self.fail(where, _DURATION_HINT, spec)
        return Target(name, calendar_name, calendar, duration=duration)

    def calendar_name(self, name: Any, calendars: dict[str, Calendar], where: str) -> str:
        if not isinstance(name, str) or name not in calendars:
            raise self.fail(where, f"one of the calendars {', '.join(calendars)}", name)
        return name

    def level(self, number: int, spec: Any, calendars: dict[str, Calendar]) -> LevelPolicy:
        where = f"levels.{number}"
        spec = self.mapping(spec, where, ("calendar", "escalation", *TARGET_NAMES))
        calendar_name = self.calendar_name(
            self.required(spec, "calendar", where), calendars, f"{where}.calendar"
        )
        targets = {
            name: self.target(
                name, self.required(spec, name, where), calendar_name, calendars, f"{where}.{name}"
            )
            for name in TARGET_NAMES
        }
        roles = self.required(spec, "escalation", where)
        if not isinstance(roles, list) or any(r not in ROLES for r in roles):
            raise self.fail(
                f"{where}.escalation", f"a list of roles among {', '.join(ROLES)}", roles
            )
        if len(set(roles)) != len(roles):
            raise self.fail(f"{where}.escalation", "each role once", roles)
        return LevelPolicy(number, targets, tuple(roles))


_CALENDAR_KEYS = ("type", "timezone", "hours", "french_public_holidays", "holidays", "business_day")
