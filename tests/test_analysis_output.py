"""The analysis commands' output: one table, the same columns in every format."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkgraph.analysis.output import format_table, resolve_format, to_csv, write_result
from linkgraph.errors import UsageError

TABLE = pa.table({"domain": ["a.com", "b.org"], "links": [12, 3],
                  "follow_share": [0.75, None], "rel": [["nofollow"], []]})


def test_table_is_aligned_with_numbers_right():
    lines = format_table(TABLE).splitlines()
    assert lines[0].split() == ["domain", "links", "follow_share", "rel"]
    assert lines[2].startswith("a.com ") and "   12" in lines[2]
    assert lines[3].split()[:2] == ["b.org", "3"]
    # One column start per header, the same in every row.
    start = lines[0].index("links") + len("links")
    assert all(line[start - 1].isdigit() or line[start - 1] == "-" for line in lines[1:])


def test_terminal_width_cuts_long_cells():
    table = pa.table({"url": ["http://x/" + "a" * 200]})
    assert max(map(len, format_table(table, 20).splitlines())) == 20


def test_every_format_has_the_same_columns(tmp_path):
    for fmt in ("csv", "jsonl", "parquet"):
        path = tmp_path / f"out.{fmt}"
        write_result(TABLE, None, str(path))
        if fmt == "csv":
            header = path.read_text().splitlines()[0].split(",")
        elif fmt == "jsonl":
            header = list(json.loads(path.read_text().splitlines()[0]))
        else:
            header = pq.read_table(path).column_names
        assert header == TABLE.column_names, fmt
    assert pq.read_table(tmp_path / "out.parquet").equals(TABLE)
    assert to_csv(TABLE).splitlines()[1:] == ["a.com,12,0.75,nofollow", "b.org,3,,"]


def test_summary_before_the_table_and_format_choice():
    out = io.StringIO()
    write_result(TABLE, "table", summary=["2 referring domains"], stream=out)
    assert out.getvalue().splitlines()[0] == "2 referring domains"
    assert resolve_format(None, "x.csv") == "csv" and resolve_format(None, None) == "table"
    with pytest.raises(UsageError, match="needs -o"):
        write_result(TABLE, "parquet")
    with pytest.raises(UsageError, match="not a folder"):
        write_result(TABLE, "csv", "/nonexistent-folder/x.csv")
