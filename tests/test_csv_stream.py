"""The streaming CSV reader both imports use: a bad line costs that line, the file's own
problems are told before any row, and the repeat-finder and error cap stay exact."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from routing.csv_stream import CsvFileError, CsvSource, LineError, Rejections, SeenKeys


def _read(path: Path, data: bytes) -> list[tuple[int, object]]:
    path.write_bytes(data)
    with CsvSource(path, required=("a", "b")) as source:
        return list(source)


def test_a_bad_byte_costs_its_line_only_and_the_column_is_named(tmp_path: Path) -> None:
    rows = _read(
        tmp_path / "f.csv",
        b"\xef\xbb\xbfa,b\n"  # a BOM before the header is tolerated
        b"1,x\n"
        b"2,Caf\xe9\n"  # Latin-1 e-acute on line 3
        b'3,"two\n'  # a quoted field over lines 4-5
        b'lines"\n'
        b"\n"  # blank lines are skipped, and still counted
        b"4,y\r\n",
    )
    assert rows == [
        (2, {"a": "1", "b": "x"}),
        (3, LineError("not UTF-8 (byte 0xE9 at column 6); save the file as UTF-8")),
        (4, {"a": "3", "b": "two\nlines"}),
        (7, {"a": "4", "b": "y"}),
    ]


def test_a_bad_byte_inside_a_quoted_record_spoils_that_record_alone(tmp_path: Path) -> None:
    rows = _read(tmp_path / "f.csv", b'a,b\n1,"one\n\xffstill one"\n2,two\n')
    assert rows[0] == (3, LineError("not UTF-8 (byte 0xFF at column 1); save the file as UTF-8"))
    assert rows[1:] == [(4, {"a": "2", "b": "two"})]


def test_unreadable_records_and_wrong_widths_are_line_errors(tmp_path: Path) -> None:
    huge = b"x" * 200_000  # past csv's field size limit
    rows = _read(tmp_path / "f.csv", b"a,b\n1,x\x00\n2\n3,y,z\n4," + huge + b"\n5,w\n")
    assert [line for line, _ in rows] == [2, 3, 4, 5, 6]
    assert rows[0][1] == LineError("a NUL byte at column 4")
    assert rows[1][1] == LineError("1 fields where the header has 2")
    assert rows[2][1] == LineError("3 fields where the header has 2")
    assert isinstance(rows[3][1], LineError) and "field larger than" in rows[3][1].error
    assert rows[4][1] == {"a": "5", "b": "w"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a;b\n1;2\n", "looks semicolon-separated; export it comma-separated"),
        (b"a\tb\n1\t2\n", "looks tab-separated"),
        (b"", "empty file"),
        (b"a,c\n1,2\n", "missing column(s) b"),
        (b"\xff\xfea,b\n", "line 1 (the header) is not UTF-8 (byte 0xFF at column 1)"),
    ],
)
def test_what_spoils_the_whole_file_is_told_before_any_row(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(CsvFileError) as caught:
        CsvSource(path, required=("a", "b"))
    assert message in str(caught.value)


def test_a_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="cannot read"):
        CsvSource(tmp_path / "nope.csv", required=("a",))


def test_seen_keys_finds_every_repeat_with_its_first_line() -> None:
    """Against a plain dict, over enough batches that runs are merged and capped."""
    rng = random.Random(3)
    seen = SeenKeys()
    seen.RUN = 4096  # small runs: the capped-run path runs too
    first: dict[str, int] = {}
    line = 1
    for _ in range(60):
        keys = [f"S{rng.randrange(20_000)}" for _ in range(rng.randrange(1, 400))]
        keys = list(dict.fromkeys(keys))  # an import adds each key of a batch once
        lines = list(range(line, line + len(keys)))
        line += len(keys)
        found = seen.first_lines(SeenKeys.fingerprints(keys)).tolist()
        assert found == [first.get(k, 0) for k in keys]
        new = [(k, n) for k, n, f in zip(keys, lines, found, strict=True) if not f]
        seen.add(SeenKeys.fingerprints(k for k, _ in new), [n for _, n in new])
        first.update({k: n for k, n in new})
    assert len(seen) == len(first)
    assert seen.first_lines(np.array([], dtype=np.int64)).tolist() == []


def test_rejections_keep_the_first_ones_and_count_all() -> None:
    rejections = Rejections(limit=3)
    for line in range(2, 12):
        rejections.add(line, "bad")
    assert rejections.count == 10
    assert [e["line"] for e in rejections.kept] == [2, 3, 4]
