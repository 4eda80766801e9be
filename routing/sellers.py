"""The seller directory: channel -> seller, imported from the operator's CSV."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.models import Seller

COLUMNS = ("seller_id", "name", "channel_id", "account_manager_id", "tier", "language")
# optional: a file without it still imports, and leaves each seller's choice as it was
OPTIONAL_COLUMNS = ("nudges",)
NUDGES = {"on": False, "off": True}  # value -> nudges_opt_out
TIERS = {"gold", "silver", "bronze"}
LANGUAGES = {"fr", "en"}
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")
_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")


class DirectoryFileError(ValueError):
    """The file itself cannot be read as a directory (not a row problem)."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


def check_row(row: dict[str, str]) -> dict[str, str | bool | None]:
    """Validate one CSV row; raise ValueError with a sentence a person can act on."""
    values = {k: (row.get(k) or "").strip() for k in COLUMNS}
    if not values["seller_id"]:
        raise ValueError("seller_id is empty")
    if not values["name"]:
        raise ValueError("name is empty")
    if not _CHANNEL.match(values["channel_id"]):
        raise ValueError(f"channel_id {values['channel_id']!r} is not a Slack channel id")
    am = values["account_manager_id"] or None
    if am is not None and not _USER.match(am):
        raise ValueError(f"account_manager_id {am!r} is not a Slack user id")
    tier = values["tier"].lower()
    if tier not in TIERS:
        raise ValueError(f"tier {values['tier']!r} is not one of {', '.join(sorted(TIERS))}")
    language = values["language"].lower()
    if language not in LANGUAGES:
        raise ValueError(f"language {values['language']!r} is not fr or en")
    checked: dict[str, str | bool | None] = {
        **values,
        "account_manager_id": am,
        "tier": tier,
        "language": language,
    }
    nudges = (row.get("nudges") or "").strip().lower()
    if nudges:
        if nudges not in NUDGES:
            raise ValueError(f"nudges {row.get('nudges')!r} is not on or off")
        checked["nudges_opt_out"] = NUDGES[nudges]
    return checked


def read_directory_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DirectoryFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DirectoryFileError(f"{path}: not UTF-8 text") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DirectoryFileError(f"{path}: missing column(s) {', '.join(missing)}")
    # line numbers as a person counts them in an editor: the header is line 1
    return [(reader.line_num, row) for row in reader]


def do_import_directory(session: Session, rows: list[tuple[int, dict[str, str]]]) -> ImportReport:
    """Create or update sellers; a bad row is reported with its line and the rest go in."""
    report = ImportReport()
    existing = {s.seller_id: s for s in session.scalars(select(Seller))}
    by_channel = {s.channel_id: s.seller_id for s in existing.values()}
    channel_of = {sid: s.channel_id for sid, s in existing.items()}
    seen: dict[str, int] = {}
    for line, row in rows:
        try:
            values = check_row(row)
            sid = str(values["seller_id"])
            if sid in seen:
                raise ValueError(f"seller_id {sid!r} already given on line {seen[sid]}")
            owner = by_channel.get(str(values["channel_id"]))
            if owner is not None and owner != sid:
                raise ValueError(f"channel_id {values['channel_id']!r} belongs to seller {owner!r}")
        except ValueError as exc:
            report.errors.append({"line": line, "error": str(exc)})
            continue
        seen[sid] = line
        channel = str(values["channel_id"])
        moved = sid in channel_of and channel_of[sid] != channel
        seller = existing.get(sid)
        if seller is None:
            seller = Seller(**values)
            session.add(seller)
            existing[sid] = seller
            report.created += 1
        else:
            changed = False
            for key, value in values.items():
                if getattr(seller, key) != value:
                    setattr(seller, key, value)
                    changed = True
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        if sid in channel_of:
            by_channel.pop(channel_of[sid], None)
        by_channel[channel] = sid
        channel_of[sid] = channel
        if moved:
            # Written at once: a later row may take the channel this seller just left, and
            # channel_id is unique in the database.
            session.flush()
    session.flush()
    return report


def seller_for_channel(session: Session, *, channel_id: str) -> Seller | None:
    return session.scalar(select(Seller).where(Seller.channel_id == channel_id))
