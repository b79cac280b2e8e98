#!/usr/bin/env python3
"""Writes a differential regression script (tests/difftest/regress/*.test)
from plain SQL, with the answers of the SQLite that Python links.

Input (a file or stdin): statements separated by blank lines. A block may
start with its own record head (`statement error`, `query loose`,
`query order 0,1:nocase`, `query numeric`, ...); without one, a block whose
statement reads rows (SELECT, WITH, VALUES, PRAGMA, EXPLAIN or RETURNING) is
a `query`, anything else a `statement count N` (or `statement error` when
SQLite fails it). Lines starting with `#` before the first block are the
script's comment. A `params: 1, 'a'` line after the head binds parameters.

The answers are checked again by `cargo test --test difftest NAME`, which
replays the script on rusqlite's bundled SQLite as well as on sealdb: a
difference between the two SQLite versions shows there.

    python3 scripts/gen_regress.py in.sql > tests/difftest/regress/NAME.test
"""

import re
import sqlite3
import sys


def literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v == float("inf"):
            return "1e999"
        if v == float("-inf"):
            return "-1e999"
        s = repr(v)
        if not any(c in s for c in ".eE"):
            s += ".0"
        return s
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "x'" + bytes(v).hex() + "'"
    raise ValueError(f"unknown value {v!r}")


def parse_params(text):
    con = sqlite3.connect(":memory:")
    return list(con.execute("SELECT " + text).fetchone())


READS = re.compile(r"^\s*(SELECT|WITH|VALUES|PRAGMA|EXPLAIN)\b", re.I)
DML = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
HEADS = ("statement ", "query")


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    out = []
    if blocks and all(l.startswith("#") for l in blocks[0].splitlines()):
        out.append(blocks.pop(0).strip())
        out.append("")
    con = sqlite3.connect(":memory:", isolation_level=None)
    for block in blocks:
        lines = block.strip("\n").splitlines()
        head = None
        if lines[0].startswith(HEADS):
            head = lines.pop(0).strip()
        params = []
        params_line = None
        if lines and lines[0].startswith("params:"):
            params_line = lines.pop(0)
            params = parse_params(params_line[len("params:"):])
        sql = "\n".join(lines)
        reads = bool(READS.match(sql)) or re.search(r"\bRETURNING\b", sql, re.I)
        try:
            cur = con.execute(sql, params)
            rows = cur.fetchall()
            error = None
        except sqlite3.Error as e:
            error = str(e)
        if head is None:
            if error is not None:
                head = "query error" if reads else "statement error"
            elif reads:
                head = "query"
            elif DML.match(sql):
                head = f"statement count {cur.rowcount}"
            else:
                head = "statement ok"
        elif head.startswith("statement count") and error is None:
            head = f"statement count {cur.rowcount if cur.rowcount >= 0 else 0}"
        if head.endswith("error") and error is None:
            sys.exit(f"expected an error, SQLite succeeded: {sql}")
        if not head.endswith("error") and error is not None:
            sys.exit(f"SQLite failed ({error}): {sql}")
        out.append(head)
        if params_line:
            out.append(params_line)
        out.append(sql)
        if head.startswith("query") and not head.endswith("error"):
            out.append("----")
            for r in rows:
                out.append("|".join(literal(v) for v in r))
        out.append("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
