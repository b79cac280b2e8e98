"""Column batches: Python rows to and from ``sealdb_column_batch`` arrays.

``sealdb_step_batch`` reads up to N result rows in one C call and
``sealdb_execute_batch`` runs a statement for N rows of parameters in one
call (see ``ffi/src/batch.rs``). Both lay a batch out by column: a type
code per value, an array of 8-byte numbers (int64 or double by type), and
the bytes of the TEXT and BLOB values with ``rows + 1`` offsets into them.

This module converts between those arrays and Python values with bulk
operations that run in C inside the interpreter — a ``memoryview`` cast to
``q``/``d`` and ``tolist()``, one ``bytes.decode`` per column, ``map`` over
slices, ``array`` from a tuple, ``str.join`` — so that on the common paths
no Python bytecode runs per value: a column whose values all have one type,
or one type and NULL. Other columns take a per-value loop.

``to_param`` is the one definition of how a Python value becomes an SQL
value; the single-row binding in ``Cursor`` uses it too.
"""

import datetime
from array import array
from itertools import accumulate
from operator import itemgetter

from ._ffi import ffi, lib

INTEGER = lib.SEALDB_INTEGER
REAL = lib.SEALDB_REAL
TEXT = lib.SEALDB_TEXT
BLOB = lib.SEALDB_BLOB
NULL = lib.SEALDB_NULL

_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_NONE_TYPE = type(None)
# Rows that take the bulk path for parameters (named tuples too); others
# (mappings, other sequences) go row by row.
_ROW_TYPES = (tuple, list)

# The array typecode of C's size_t (offsets), and the 8-byte number types.
_SIZE = ffi.sizeof("size_t")
_SIZE_CODE = {8: "Q", 4: "I"}[_SIZE]
if array(_SIZE_CODE).itemsize != _SIZE or array("q").itemsize != 8 \
        or array("d").itemsize != 8 or ffi.sizeof("sealdb_number") != 8:
    raise ImportError("sealdb: unexpected C type sizes on this platform")


class UnknownType(Exception):
    """A type code this module does not know (a newer library?)."""


# ---------------------------------------------------------------- results


def batch_rows(batch):
    """The rows of a filled ``sealdb_batch *``, as an iterator of tuples.
    Reads everything it needs before returning: the arrays belong to the
    statement and change at its next step."""
    n = batch.rows
    column = batch.column
    return zip(*[column_values(column[j], n) for j in range(batch.columns)])


def column_values(col, n):
    """The ``n`` values of one ``sealdb_column_batch``, as a list."""
    if n == 1:
        return [_single(col)]
    kind = col.uniform_type
    if kind:
        return _uniform(col, n, kind)
    types = ffi.buffer(col.types, n)[:]
    kinds = set(types)
    if len(kinds) == 2 and NULL in kinds:
        # One type and NULL: read all as that type (a NULL's number is 0
        # and its bytes empty), then put None where the NULLs are.
        kinds.discard(NULL)
        values = _uniform(col, n, kinds.pop())
        i = types.find(NULL)
        while i >= 0:
            values[i] = None
            i = types.find(NULL, i + 1)
        return values
    return _mixed(col, n, types)


def _single(col):
    """The value of a one-row column (the first row ``execute`` reads):
    read directly, cheaper than setting up the bulk conversions."""
    t = col.types[0]
    if t == INTEGER:
        return col.numbers[0].integer
    if t == TEXT or t == BLOB:
        start, end = col.offsets[0], col.offsets[1]
        data = ffi.buffer(col.data + start, end - start)[:] if end > start else b""
        return data.decode("utf-8") if t == TEXT else data
    if t == REAL:
        return col.numbers[0].real
    if t == NULL:
        return None
    raise UnknownType(t)


def _numbers(col, n, code):
    return memoryview(ffi.buffer(col.numbers, 8 * n)).cast(code).tolist()


def _offsets_and_data(col, n):
    offsets = memoryview(ffi.buffer(col.offsets, _SIZE * (n + 1))).cast(_SIZE_CODE).tolist()
    data = ffi.buffer(col.data, col.data_len)[:] if col.data_len else b""
    return offsets, data


def _uniform(col, n, kind):
    if kind == INTEGER:
        return _numbers(col, n, "q")
    if kind == REAL:
        return _numbers(col, n, "d")
    if kind == NULL:
        return [None] * n
    if kind != TEXT and kind != BLOB:
        raise UnknownType(kind)
    offsets, data = _offsets_and_data(col, n)
    slices = map(slice, offsets, offsets[1:])
    if kind == BLOB:
        return list(map(data.__getitem__, slices))
    text = data.decode("utf-8")
    if len(text) == len(data):
        # All ASCII: byte offsets are character offsets.
        return list(map(text.__getitem__, slices))
    return list(map(bytes.decode, map(data.__getitem__, slices)))


def _mixed(col, n, types):
    numbers = memoryview(ffi.buffer(col.numbers, 8 * n))
    ints, reals = numbers.cast("q"), numbers.cast("d")
    offsets, data = _offsets_and_data(col, n)
    out = [None] * n
    for i, t in enumerate(types):
        if t == INTEGER:
            out[i] = ints[i]
        elif t == REAL:
            out[i] = reals[i]
        elif t == TEXT:
            out[i] = data[offsets[i]:offsets[i + 1]].decode("utf-8")
        elif t == BLOB:
            out[i] = data[offsets[i]:offsets[i + 1]]
        elif t != NULL:
            raise UnknownType(t)
    return out


# ---------------------------------------------------------------- parameters


def to_param(value):
    """``(type code, payload)`` for a Python parameter value: the int, the
    float, the UTF-8 bytes of text, the bytes of a blob, or None for NULL.
    Raises OverflowError (an int outside 64 bits), UnicodeEncodeError (a
    str that is not encodable) or TypeError (an unsupported type)."""
    if value is None:
        return NULL, None
    if isinstance(value, int):  # bool too
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError(value)
        return INTEGER, int(value)
    if isinstance(value, float):
        return REAL, value
    if isinstance(value, str):
        return TEXT, value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BLOB, bytes(value)
    if isinstance(value, (datetime.date, datetime.time)):
        # Dates and times are stored as ISO 8601 text.
        text = value.isoformat(" ") if isinstance(value, datetime.datetime) \
            else value.isoformat()
        return TEXT, text.encode()
    raise TypeError(type(value).__name__)


def param_columns(rows, nparams):
    """``(columns, keep)`` for ``sealdb_execute_batch`` from a list of rows:
    ``columns`` a ``sealdb_column_batch[nparams]`` (or NULL), ``keep`` the
    Python buffers it points into, to hold until the call returns. None when
    the rows need the row-by-row path: a row that is not a tuple or list of
    ``nparams`` values, or a value that does not convert (that path raises
    the error at the right row)."""
    n = len(rows)
    # (Counting in a list of the types is cheaper than a set of them.)
    types = list(map(type, rows))
    if not n or types.count(tuple) != n and \
            not all(issubclass(t, _ROW_TYPES) for t in set(types)):
        return None
    if list(map(len, rows)).count(nparams) != n:
        return None
    if nparams == 0:
        return ffi.NULL, []
    columns = ffi.new("sealdb_column_batch[]", nparams)
    keep = [columns]
    for j in range(nparams):
        # (Cheaper than transposing with zip(*rows).)
        if not _encode_column(columns[j], list(map(itemgetter(j), rows)), keep):
            return None
    return columns, keep


def _set_numbers(col, buf, keep):
    p = ffi.from_buffer("sealdb_number[]", buf)
    keep.append(p)
    col.numbers = p


def _set_bytes(col, data, lengths, keep):
    offsets = array(_SIZE_CODE, accumulate(lengths, initial=0))
    p = ffi.from_buffer("size_t[]", offsets)
    keep.append(p)
    col.offsets = p
    if data:
        d = ffi.from_buffer("uint8_t[]", data)
        keep.append(d)
        col.data = d
        col.data_len = len(data)


def _encode_column(col, values, keep):
    """Fills ``col`` with ``values``; False when they need the per-row path."""
    kind = type(values[0])
    if list(map(type, values)).count(kind) != len(values):
        return _encode_mixed(col, values, keep)
    if kind is int or kind is bool:
        try:
            _set_numbers(col, array("q", values), keep)
        except OverflowError:
            return False
        col.uniform_type = INTEGER
    elif kind is float:
        _set_numbers(col, array("d", values), keep)
        col.uniform_type = REAL
    elif kind is str:
        joined = "".join(values)
        if joined.isascii():
            # One byte per character: the lengths are the str lengths.
            _set_bytes(col, joined.encode("ascii"), map(len, values), keep)
        else:
            try:
                encoded = list(map(str.encode, values))
            except UnicodeEncodeError:
                return False
            _set_bytes(col, b"".join(encoded), map(len, encoded), keep)
        col.uniform_type = TEXT
    elif kind is bytes:
        _set_bytes(col, b"".join(values), map(len, values), keep)
        col.uniform_type = BLOB
    elif kind is _NONE_TYPE:
        col.uniform_type = NULL
    else:
        return _encode_mixed(col, values, keep)
    return True


def _encode_mixed(col, values, keep):
    n = len(values)
    types = bytearray(n)
    numbers = bytearray(8 * n)
    ints, reals = memoryview(numbers).cast("q"), memoryview(numbers).cast("d")
    pieces = []
    lengths = [0] * n
    try:
        for i, value in enumerate(values):
            code, payload = to_param(value)
            types[i] = code
            if code == INTEGER:
                ints[i] = payload
            elif code == REAL:
                reals[i] = payload
            elif code != NULL:
                pieces.append(payload)
                lengths[i] = len(payload)
    except Exception:  # the per-row path raises it at its row
        return False
    ints.release()
    reals.release()
    t = ffi.from_buffer("uint8_t[]", types)
    keep.append(t)
    col.types = t
    _set_numbers(col, numbers, keep)
    _set_bytes(col, b"".join(pieces), lengths, keep)
    return True
