"""Operator CSV files read as a stream, in memory that does not grow with the file.

Both imports (the seller directory, the daily metrics) read their file through `CsvSource`:
one line at a time, each line decoded on its own, so a byte that is not UTF-8 costs that line
only ("line 3: not UTF-8 ...") instead of the whole file. What makes the file as a whole
unreadable (no file, no header, a semicolon export, missing columns) is a `CsvFileError`
raised before any row is read: nothing is imported then.

`SeenKeys` finds a key given twice in one file without keeping the keys themselves, and
`Rejections` keeps the first errors and counts the rest: neither grows beyond a few bytes a
row, whatever the file's size.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

BOM = b"\xef\xbb\xbf"
NUL = b"\0"
KEPT_ERRORS = 1000  # errors listed in a report; past that they are only counted
_HINTS = {
    ";": "semicolon",
    "\t": "tab",
}


class CsvFileError(ValueError):
    """The file as a whole cannot be read (not a row problem): nothing was imported."""


@dataclass(frozen=True)
class LineError:
    """A line that could not be read as CSV text; the lines around it still are."""

    error: str


Row = dict[str, str]


def _column(raw: bytes, at: int) -> int:
    """The column an editor shows for byte `at` of a line (characters, from 1)."""
    return len(raw[:at].decode("utf-8", errors="replace")) + 1


def not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    """Where a line stops being UTF-8, in terms a person can find in an editor."""
    byte, column = raw[exc.start], _column(raw, exc.start)
    return f"not UTF-8 (byte 0x{byte:02X} at column {column}); save the file as UTF-8"


class CsvSource:
    """An open CSV file: its header checked at once, then (line, row) pairs one at a time,
    where line is the record's first line as an editor counts (the header is line 1) and row
    is a dict by column name, or a `LineError` for a line that cannot be read."""

    def __init__(
        self,
        path: Path,
        *,
        required: Sequence[str],
        error: type[CsvFileError] = CsvFileError,
    ) -> None:
        self.path = Path(path)
        self.bytes_read = 0
        try:
            self._fh: BinaryIO = self.path.open("rb")
            self.size = self.path.stat().st_size
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror})") from exc
        self._bad: list[tuple[int, str]] = []  # lines that failed to decode, not yet reported
        self._reader = csv.reader(self._lines())
        try:
            header = next(self._reader, None)
            if self._bad:
                raise error(f"{path}: line 1 (the header) is {self._bad[0][1]}")
            if not header:
                raise error(f"{path}: empty file (no header line)")
            self.header = [h.strip() for h in header]
            if len(self.header) == 1:
                for sep, name in _HINTS.items():
                    if sep in self.header[0]:
                        raise error(
                            f"{path}: the file looks {name}-separated; export it "
                            "comma-separated (in a spreadsheet: Save As, CSV UTF-8 "
                            "(Comma delimited))"
                        )
            missing = [c for c in required if c not in self.header]
            if missing:
                raise error(f"{path}: missing column(s) {', '.join(missing)}")
        except BaseException:
            self._fh.close()
            raise

    def _lines(self) -> Iterator[str]:
        """Each physical line decoded alone. One that is not UTF-8 is noted, and read with
        the bad bytes replaced so its quotes and commas still frame the records around it;
        the record it falls in is then reported, not imported."""
        for number, raw in enumerate(self._fh, start=1):
            self.bytes_read += len(raw)
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:  # UTF-16 says so here too, at its first byte
                self._bad.append((number, not_utf8(raw, exc)))
                text = raw.decode("utf-8", errors="replace")
            else:
                nul = raw.find(NUL)
                if nul >= 0:  # no text column takes it (PostgreSQL refuses it outright)
                    self._bad.append((number, f"a NUL byte at column {_column(raw, nul)}"))
            yield text.replace("\0", "")

    def __iter__(self) -> Iterator[tuple[int, Row | LineError]]:
        width = len(self.header)
        reader = self._reader
        end = reader.line_num
        while True:
            start = end + 1
            try:
                fields = next(reader, None)
            except csv.Error as exc:  # a NUL byte, a field past the size limit: that record
                end = reader.line_num
                yield start, LineError(f"not readable as CSV ({exc})")
                continue
            end = reader.line_num
            if self._bad:
                # an undecodable line inside this record spoils the record: report the line
                bad, self._bad = self._bad, []
                for line, message in bad:
                    yield line, LineError(message)
                continue
            if fields is None:
                return
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != width:
                yield start, LineError(f"{len(fields)} fields where the header has {width}")
                continue
            yield start, dict(zip(self.header, fields, strict=True))

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class Rejections:
    """Rejected rows: all counted, the first KEPT_ERRORS kept (line order) for the report."""

    count: int = 0
    kept: list[dict[str, object]] = field(default_factory=list)
    limit: int = KEPT_ERRORS

    def add(self, line: int, error: str) -> None:
        self.count += 1
        if len(self.kept) < self.limit:
            self.kept.append({"line": line, "error": error})


@dataclass
class RejectingReport:
    """What an import report says of its rejected rows (routing.sellers, metrics_import)."""

    rejections: Rejections = field(default_factory=Rejections)

    @property
    def errors(self) -> list[dict[str, object]]:
        """The first rejected rows (all of them up to KEPT_ERRORS), by line."""
        return self.rejections.kept

    @property
    def rejected(self) -> int:
        return self.rejections.count


class SeenKeys:
    """Keys met earlier in a file, each as a 64-bit fingerprint with the line it came from:
    12 bytes a key (46 MB for the 3.8 million rows of a 200 MB metrics file) where a Python
    set of the keys themselves takes 200 bytes and more. Fingerprints are kept in sorted
    runs, merged as they grow but never past RUN keys, so that a merge's scratch space stays
    small; a batch is looked up with one binary search per run.

    Two different keys share a fingerprint with odds of about n²/2^65 for n keys (1 in 2.5
    million for 3.8 million rows): the later row would then be rejected as a repeat, by its
    line, never dropped unseen. Python's hash is salted per process, so a re-run does not
    meet the same coincidence."""

    RUN = 1 << 20

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    @staticmethod
    def fingerprints(keys: Iterable[object]) -> np.ndarray:
        return np.fromiter((hash(k) for k in keys), dtype=np.int64)

    def first_lines(self, prints: np.ndarray) -> np.ndarray:
        """The line each fingerprint was first met on, 0 where it was not met."""
        found = np.zeros(len(prints), dtype=np.int64)
        for keys, lines in self._runs:
            at = np.minimum(np.searchsorted(keys, prints), len(keys) - 1)
            hit = (keys[at] == prints) & (found == 0)
            found[hit] = lines[at[hit]]
        return found

    def add(self, prints: np.ndarray, lines: Sequence[int] | np.ndarray) -> None:
        """Remember these fingerprints (lines past 2^32 - 1 are kept as that)."""
        if len(prints) == 0:
            return
        order = np.argsort(prints, kind="stable")
        lines_ = np.minimum(np.asarray(lines, dtype=np.int64), 2**32 - 1).astype(np.uint32)
        self._runs.append((prints[order], lines_[order]))
        while len(self._runs) > 1:
            (k1, l1), (k2, l2) = self._runs[-2], self._runs[-1]
            if len(k1) > 2 * len(k2) or len(k1) + len(k2) > self.RUN:
                break
            at = np.searchsorted(k1, k2)  # a merge of two sorted runs, in one pass
            self._runs[-2:] = [(np.insert(k1, at, k2), np.insert(l1, at, l2))]

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self._runs)
