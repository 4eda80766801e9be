"""The seller directory: channel -> seller, imported from the operator's CSV.

The file is streamed (routing.csv_stream) and imported BATCH rows at a time: memory holds
about one batch, whatever the directory's size."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from routing.csv_stream import (
    CsvFileError,
    CsvSource,
    LineError,
    RejectingReport,
    Row,
    SeenKeys,
)
from routing.db import utcnow
from routing.models import Seller

COLUMNS = ("seller_id", "name", "channel_id", "account_manager_id", "tier", "language")
# optional: a file without it still imports, and leaves each seller's choice as it was
OPTIONAL_COLUMNS = ("nudges",)
NUDGES = {"on": False, "off": True}  # value -> nudges_opt_out
TIERS = {"gold", "silver", "bronze"}
LANGUAGES = {"fr", "en"}
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")
_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")


BATCH = 5000  # rows checked and written together; memory holds about one batch


class DirectoryFileError(CsvFileError):
    """The file itself cannot be read as a directory (not a row problem)."""


@dataclass
class ImportReport(RejectingReport):
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": self.errors,
            "errors_not_listed": self.rejected - len(self.errors),
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


def open_directory_csv(path: Path) -> CsvSource:
    """The directory file, header checked, rows read one at a time (see routing.csv_stream)."""
    return CsvSource(path, required=COLUMNS, error=DirectoryFileError)


def read_directory_csv(path: Path) -> list[tuple[int, Row | LineError]]:
    """The whole (small) directory as a list, for the demo and benches that edit rows; an
    import of a file of any size streams it with `open_directory_csv`."""
    with open_directory_csv(path) as source:
        return list(source)


Progress = Callable[[ImportReport], None]


def do_import_directory(
    session: Session,
    rows: Iterable[tuple[int, Row | LineError]],
    *,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> ImportReport:
    """Create or update sellers; a bad row is reported with its line and the rest go in.
    Rows are taken `batch` at a time: only the stored sellers a batch names (by id or by
    channel) are read, and memory stays about one batch whatever the file's size."""
    report = ImportReport()
    seen = SeenKeys()  # seller ids of earlier batches, to name a seller given twice
    pending: list[tuple[int, Row | LineError]] = []
    for item in rows:
        pending.append(item)
        if len(pending) >= batch:
            _import_batch(session, pending, seen, report)
            pending = []
            if progress is not None:
                progress(report)
    _import_batch(session, pending, seen, report)
    if progress is not None:
        progress(report)
    return report


_STORED = (*COLUMNS, "nudges_opt_out")


def _stored(session: Session, column: str, values: list[str]) -> list[dict[str, object]]:
    table = Seller.__table__
    assert isinstance(table, Table)
    found: list[dict[str, object]] = []
    for i in range(0, len(values), 1000):
        query = select(*(table.c[c] for c in _STORED)).where(
            table.c[column].in_(values[i : i + 1000])
        )
        found.extend(dict(r) for r in session.execute(query).mappings())
    return found


def _import_batch(
    session: Session,
    rows: list[tuple[int, Row | LineError]],
    seen: SeenKeys,
    report: ImportReport,
) -> None:
    checked: list[tuple[int, dict[str, str | bool | None]]] = []
    for line, row in rows:
        if isinstance(row, LineError):
            report.rejections.add(line, row.error)
            continue
        try:
            checked.append((line, check_row(row)))
        except ValueError as exc:
            report.rejections.add(line, str(exc))
    if not checked:
        return
    sids = [str(v["seller_id"]) for _, v in checked]
    earlier = seen.first_lines(SeenKeys.fingerprints(sids)).tolist()
    # every stored seller these rows can touch: by their ids and by the channels they claim
    current = {str(s["seller_id"]): s for s in _stored(session, "seller_id", sids)}
    channels = [str(v["channel_id"]) for _, v in checked]
    current.update({str(s["seller_id"]): s for s in _stored(session, "channel_id", channels)})
    by_channel = {str(s["channel_id"]): sid for sid, s in current.items()}
    given: dict[str, int] = {}  # seller id -> line, in this batch
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for (line, values), first in zip(checked, earlier, strict=True):
        sid, channel = str(values["seller_id"]), str(values["channel_id"])
        first = first or given.get(sid, 0)
        if first:
            report.rejections.add(line, f"seller_id {sid!r} already given on line {first}")
            continue
        owner = by_channel.get(channel)
        if owner is not None and owner != sid:
            report.rejections.add(line, f"channel_id {channel!r} belongs to seller {owner!r}")
            continue
        given[sid] = line
        stored = current.get(sid)
        if stored is None:
            new: dict[str, object] = {"nudges_opt_out": False, **values}
            inserts.append(new)
            report.created += 1
        else:
            new = {**stored, **values}
            if new != stored:
                updates.append(new)
                report.updated += 1
            else:
                report.unchanged += 1
            if by_channel.get(str(stored["channel_id"])) == sid:
                del by_channel[str(stored["channel_id"])]
        by_channel[channel] = sid
        current[sid] = new
    # Updates first, in file order: a row may take a channel that a row above it left, and
    # channel_id is unique (a new seller never frees a channel, so inserts can come last).
    if updates:
        session.execute(update(Seller), updates)  # by primary key, one executemany
    if inserts:
        # Core, stamps given: the ORM's bulk insert spends more on each row than SQLite does
        table = Seller.__table__
        assert isinstance(table, Table)
        now = utcnow()
        session.execute(
            insert(table), [{**i, "created_at": now, "updated_at": now} for i in inserts]
        )
    seen.add(SeenKeys.fingerprints(given), list(given.values()))


def seller_for_channel(session: Session, *, channel_id: str) -> Seller | None:
    return session.scalar(select(Seller).where(Seller.channel_id == channel_id))
