"""Plain-text tables and sizes."""

from __future__ import annotations

from datetime import datetime

from ai_code_reviewer.dbtools.render import CELL_WIDTH, count_records, human_size, table


def test_table_aligns_columns_under_headers() -> None:
    """Every column starts at the same place on each line."""
    text = table(["ID", "NAME"], [[1, "alpha"], [100, "b"]])

    lines = text.splitlines()
    assert lines[0] == "ID   NAME"
    assert lines[2] == "1    alpha"
    assert lines[3] == "100  b"


def test_table_shows_values_on_one_short_line() -> None:
    """Dates drop seconds, booleans read yes/no, None is a dash, long text is cut."""
    row = [datetime(2025, 1, 7, 9, 30, 59), True, None, "line one\nline two" * 20]

    text = table(["A", "B", "C", "D"], [row])

    last = text.splitlines()[-1]
    assert last.startswith("2025-01-07 09:30  yes  -  line one line two")
    assert last.endswith("…")
    assert len(last.split("  ")[-1]) == CELL_WIDTH


def test_human_size_uses_binary_units() -> None:
    """Sizes read as bytes, KiB, MiB and GiB."""
    assert human_size(512) == "512 bytes"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(5 * 1024**2) == "5.0 MiB"
    assert human_size(3 * 1024**3) == "3.0 GiB"


def test_count_records_agrees_in_number() -> None:
    """One record reads in the singular, other counts in the plural."""
    assert count_records(1, 1) == "1 review and 1 failure log"
    assert count_records(0, 3, "resolved ") == "0 reviews and 3 resolved failure logs"
