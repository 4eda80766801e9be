"""The SLA policy file: the brief's defaults, deadlines and warnings, and clear errors."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from routing.calendars import AroundTheClock, BusinessCalendar
from routing.sla_policy import (
    PolicyError,
    SlaPolicy,
    UnknownLevelError,
    UnknownTargetError,
    load_policy,
)

PARIS = ZoneInfo("Europe/Paris")
H = timedelta(hours=1)
DEFAULTS = Path(__file__).resolve().parents[2] / "routing" / "sla_defaults.yaml"


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PARIS).astimezone(UTC)


def local(at: datetime) -> tuple[int, int, int, int, int]:
    t = at.astimezone(PARIS)
    return (t.year, t.month, t.day, t.hour, t.minute)


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return load_policy()


def test_defaults_are_the_briefs_table(policy: SlaPolicy) -> None:
    def row(level: int) -> dict[str, tuple[Any, ...]]:
        return {
            name: (t.duration, t.business_days, t.calendar_name)
            for name, t in policy.targets(level).items()
        }

    assert row(1) == {
        "first_response": (2 * H, None, "business_hours"),
        "next_response": (8 * H, None, "business_hours"),
        "resolution": (None, 1, "business_hours"),
    }
    assert row(2) == {
        "first_response": (4 * H, None, "business_hours"),
        "next_response": (8 * H, None, "business_hours"),
        "resolution": (None, 3, "business_hours"),
    }
    assert row(3) == {
        "first_response": (1 * H, None, "around_the_clock"),
        "next_response": (4 * H, None, "around_the_clock"),
        "resolution": (24 * H, None, "around_the_clock"),
    }
    assert policy.warning_fraction == 0.75
    assert policy.escalation(1) == ["helpdesk_lead"]
    assert policy.escalation(2) == ["helpdesk_lead", "account_manager"]
    assert policy.escalation(3) == ["helpdesk_lead", "account_manager", "head_of_marketplace"]
    business = policy.calendars["business_hours"]
    assert isinstance(business, BusinessCalendar)
    assert business.timezone == "Europe/Paris"
    assert business.hours == {
        **{wd: ((time(9), time(18)),) for wd in range(5)},
        5: (),
        6: (),
    }
    assert business.french_holidays
    assert business.business_day == 9 * H
    assert isinstance(policy.calendars["around_the_clock"], AroundTheClock)


def test_a_copy_of_the_packaged_file_reads_the_same(policy: SlaPolicy, tmp_path: Path) -> None:
    copied = tmp_path / "sla.yaml"
    copied.write_text(DEFAULTS.read_text("utf-8"), "utf-8")
    again = load_policy(copied)
    for level in (1, 2, 3):
        assert again.targets(level) == policy.targets(level)
        assert again.escalation(level) == policy.escalation(level)


@pytest.mark.parametrize(
    ("level", "target", "start", "deadline"),
    [
        # Friday 17:00: one hour left that day, the second on Monday morning.
        (1, "first_response", (2026, 1, 9, 17), (2026, 1, 12, 10, 0)),
        (1, "next_response", (2026, 1, 9, 17), (2026, 1, 12, 16, 0)),
        (1, "resolution", (2026, 1, 9, 17), (2026, 1, 12, 17, 0)),
        # A message at 20:00 waits for the 09:00 opening.
        (1, "first_response", (2026, 1, 13, 20), (2026, 1, 14, 11, 0)),
        (2, "first_response", (2026, 5, 13, 16), (2026, 5, 15, 11, 0)),  # over Ascension
        (2, "resolution", (2026, 1, 12, 20), (2026, 1, 15, 18, 0)),
        # Level 3 runs around the clock, weekends and DST included.
        (3, "first_response", (2026, 1, 10, 3), (2026, 1, 10, 4, 0)),
        (3, "resolution", (2026, 3, 28, 12), (2026, 3, 29, 13, 0)),
        (3, "resolution", (2026, 10, 24, 12), (2026, 10, 25, 11, 0)),
    ],
)
def test_deadlines(
    policy: SlaPolicy,
    level: int,
    target: str,
    start: tuple[int, ...],
    deadline: tuple[int, ...],
) -> None:
    found = policy.deadline(level, target, paris(*start))
    assert local(found) == deadline
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    ("level", "target", "start", "warning"),
    [
        (1, "first_response", (2026, 1, 12, 10), (2026, 1, 12, 11, 30)),
        # 75 % of 2 business hours from Friday 17:00: 1 h on Friday, 30 min on Monday.
        (1, "first_response", (2026, 1, 9, 17), (2026, 1, 12, 9, 30)),
        # 75 % of 3 business days (27 h) is 20 h 15 of business time.
        (2, "resolution", (2026, 1, 12, 9), (2026, 1, 14, 11, 15)),
        (3, "first_response", (2026, 1, 10, 3), (2026, 1, 10, 3, 45)),
        (3, "resolution", (2026, 10, 24, 12), (2026, 10, 25, 5, 0)),  # 18 real hours
    ],
)
def test_the_warning_fires_at_75_percent_of_business_time(
    policy: SlaPolicy,
    level: int,
    target: str,
    start: tuple[int, ...],
    warning: tuple[int, ...],
) -> None:
    begin = paris(*start)
    warn = policy.warning_at(level, target, begin)
    assert local(warn) == warning
    calendar = policy.targets(level)[target].calendar
    total = calendar.elapsed(begin, policy.deadline(level, target, begin))
    assert calendar.elapsed(begin, warn) == total * 0.75


def test_a_resumed_clock_counts_what_it_had_already_used(policy: SlaPolicy) -> None:
    resumed = paris(2026, 1, 12, 17)
    # 1 h 30 of the 2 h used before the pause: 30 min left, the warning point already passed.
    used = timedelta(minutes=90)
    assert local(policy.deadline(1, "first_response", resumed, consumed=used)) == (
        2026, 1, 12, 17, 30,
    )  # fmt: skip
    assert policy.warning_at(1, "first_response", resumed, consumed=used) == resumed
    assert policy.deadline(1, "first_response", resumed, consumed=3 * H) == resumed


def test_unknown_level_or_target_is_a_clear_error(policy: SlaPolicy) -> None:
    with pytest.raises(UnknownLevelError, match=r"no SLA for level 4; configured levels: 1, 2, 3"):
        policy.targets(4)
    with pytest.raises(UnknownLevelError, match="'1'"):
        policy.deadline("1", "first_response", paris(2026, 1, 12, 10))  # type: ignore[arg-type]
    with pytest.raises(UnknownLevelError):
        policy.escalation(0)
    with pytest.raises(UnknownTargetError, match=r"'first_reply'.*first_response"):
        policy.deadline(1, "first_reply", paris(2026, 1, 12, 10))
    with pytest.raises(ValueError, match="naive"):
        policy.deadline(1, "first_response", datetime(2026, 1, 12, 10))  # noqa: DTZ001


def test_an_operator_file_with_its_own_hours(tmp_path: Path) -> None:
    path = tmp_path / "operator.yaml"
    path.write_text(
        """
warning_fraction: 0.5
calendars:
  office:
    type: business_hours
    timezone: Europe/Paris
    hours:
      monday: ["09:00-12:30", "13:30-18:00"]
      tuesday: ["09:00-12:30", "13:30-18:00"]
      wednesday: ["09:00-12:30", "13:30-18:00"]
      thursday: ["09:00-12:30", "13:30-18:00"]
      friday: ["09:00-12:30", "13:30-18:00"]
      saturday: ["20:00-24:00"]
    holidays: [2026-12-24, "2026-12-31"]
    business_day: 8h
  always:
    type: around_the_clock
levels:
  "1": {calendar: office, first_response: 1h30m, next_response: 8h, resolution: 2 business days,
        escalation: []}
  "2": {calendar: office, first_response: 4h, next_response: 8h, resolution: 3 business days,
        escalation: [account_manager]}
  "3": {calendar: office, first_response: 45m, next_response: 4h,
        resolution: {target: 24h, calendar: always},
        escalation: [head_of_marketplace, helpdesk_lead]}
""",
        "utf-8",
    )
    policy = load_policy(path)
    assert policy.warning_fraction == 0.5
    # Friday 11:30 + 1 h 30 crosses lunch; Saturday evening is open.
    assert local(policy.deadline(1, "first_response", paris(2026, 1, 9, 11, 30))) == (
        2026, 1, 9, 14, 0,
    )  # fmt: skip
    assert local(policy.deadline(1, "first_response", paris(2026, 1, 9, 17, 30))) == (
        2026, 1, 10, 21, 0,
    )  # fmt: skip
    # Two 8-hour business days from Wednesday 23 December: 8 h that day, 24 Dec and
    # Christmas closed, 4 h on Saturday evening, the last 4 h on Monday.
    assert local(policy.deadline(1, "resolution", paris(2026, 12, 23, 9))) == (
        2026, 12, 28, 14, 0,
    )  # fmt: skip
    assert local(policy.deadline(3, "resolution", paris(2026, 12, 24, 9))) == (
        2026, 12, 25, 9, 0,
    )  # fmt: skip
    assert policy.targets(3)["first_response"].calendar_name == "office"
    assert policy.escalation(1) == []
    assert policy.escalation(3) == ["head_of_marketplace", "helpdesk_lead"]
    office = policy.calendars["office"]
    assert isinstance(office, BusinessCalendar)
    assert office.is_holiday(date(2026, 12, 31))
    assert office.elapsed(paris(2026, 1, 10), paris(2026, 1, 11)) == 4 * H


def _defaults() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS.read_text("utf-8"))


def _with(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(_defaults())
    change(data)
    return data


def _set(keys: list[Any], value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


def _drop(keys: list[Any]) -> Any:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return change


BUSINESS = ["calendars", "business_hours"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(["levels", 2, "resolution"], "three days"), "levels.2.resolution: expected a positive duration"),
        (_set(["levels", 1, "first_response"], "0h"), "levels.1.first_response: expected a positive"),
        (_set(["levels", 1, "first_response"], 2), "levels.1.first_response: expected .* got 2"),
        (_set(["levels", 1, "frist_response"], "2h"), "levels.1.frist_response: expected one of the keys"),
        (_drop(["levels", 3]), "levels: missing level 3"),
        (_drop(["levels", 1, "next_response"]), "levels.1: missing key 'next_response'"),
        (_set(["levels", 4], {}), "levels.4: expected levels 1, 2 and 3 only"),
        (_set(["levels", 1, "calendar"], "office"), "levels.1.calendar: expected one of the calendars .*business_hours.*, got 'office'"),
        (_set(["levels", 1, "escalation"], ["boss"]), "levels.1.escalation: expected a list of roles among helpdesk_lead"),
        (_set(["levels", 1, "escalation"], "helpdesk_lead"), "levels.1.escalation: expected a list"),
        (_set(["warning_fraction"], 75), r"warning_fraction: expected a number between 0 and 1 \(0.75 = 75 %\), got 75"),
        (_set(["warning_fraction"], "75%"), "warning_fraction: expected a number"),
        (_set([*BUSINESS, "timezone"], "Europe/Pariss"), "calendars.business_hours: unknown timezone 'Europe/Pariss'"),
        (_set([*BUSINESS, "type"], "office_hours"), "calendars.business_hours.type: expected 'business_hours' or 'around_the_clock'"),
        (_set([*BUSINESS, "hours", "monday"], ["9-18"]), "calendars.business_hours.hours.monday: expected opening hours as 'HH:MM-HH:MM'"),
        (_set([*BUSINESS, "hours", "monday"], "09:00-18:00"), "hours.monday: expected a list"),
        (_set([*BUSINESS, "hours", "monday"], ["09:00-25:00"]), "hours.monday: expected times from 00:00 to 24:00"),
        (_set([*BUSINESS, "hours", "lundi"], ["09:00-18:00"]), "hours.lundi: expected one of the keys monday"),
        (_set([*BUSINESS, "hours", "monday"], ["09:00-13:00", "12:00-18:00"]), "calendars.business_hours: weekday 0: intervals overlap"),
        (_set([*BUSINESS, "hours"], {}), "needs opening hours on at least one weekday"),
        (_set([*BUSINESS, "holidays"], ["2026-13-01"]), "calendars.business_hours.holidays: expected dates as YYYY-MM-DD, got '2026-13-01'"),
        (_set([*BUSINESS, "french_public_holidays"], "yes please"), "french_public_holidays: expected true or false"),
        (_set([*BUSINESS, "business_day"], "1 day"), "business_day: expected a positive duration"),
        (_set(["calendars", "around_the_clock", "timezone"], "UTC"), "calendars.around_the_clock.timezone: expected one of the keys type"),
        (_drop(["calendars"]), "top level: missing key 'calendars'"),
        (_set(["escalations"], {}), "escalations: expected one of the keys"),
    ],
)  # fmt: skip
def test_a_malformed_file_says_which_key_and_what_was_expected(
    tmp_path: Path, change: Any, message: str
) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(yaml.safe_dump(_with(change)), "utf-8")
    with pytest.raises(PolicyError, match=message) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("levels: [1, 2\n", "not valid YAML"),
        ("", "top level: expected a mapping, got None"),
        ("- 1\n- 2\n", "top level: expected a mapping"),
        # YAML itself turns this into a date and fails on month 13.
        ("calendars: {b: {type: business_hours, holidays: [2026-13-01]}}\n", "not valid YAML"),
    ],
)
def test_a_file_that_is_not_a_policy_at_all(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_a_missing_file_is_not_silently_replaced_by_the_defaults(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_policy(tmp_path / "nowhere.yaml")
