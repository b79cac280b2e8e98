"""sealdb for Python: a DB-API 2.0 (PEP 249) module over the sealdb C API.

sealdb is an embeddable SQL database whose every file is encrypted and
authenticated. This module feels like the standard ``sqlite3`` module::

    import sealdb

    with sealdb.connect("data/", key_file="store.key") as conn:   # commits on success
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO t (name) VALUES (?)", ("ann",))
    for row in conn.execute("SELECT id, name FROM t WHERE id > ?1", (0,)):
        print(row)

Keys: ``key=`` (16, 24 or 32 bytes), ``key_file=`` (hex, see
``generate_key_file``) or ``passphrase=`` (str or bytes, stretched into the
key with argon2id and a salt kept in the store); ``":memory:"`` needs none.

Transactions follow PEP 249: with ``autocommit`` off (the default) the
first statement that changes something (anything but SELECT, VALUES,
EXPLAIN, PRAGMA or transaction control) opens a transaction, which lasts
until ``commit()`` or ``rollback()``; ``close()`` without ``commit()`` rolls
it back. With ``autocommit=True`` every statement commits by itself unless
you run BEGIN.

Parameters: ``?`` (qmark, the declared ``paramstyle``) and numbered
``?1``/``:1``/``$1`` with a sequence; ``:name``/``@name``/``$name`` with a
mapping. Types: None <-> NULL, int and bool -> INTEGER (read back as int),
float <-> REAL, str <-> TEXT, bytes/bytearray/memoryview <-> BLOB; dates and
times are stored as ISO 8601 text.

Errors are the PEP 249 classes, chosen by the sealdb result code, which is
kept in ``err.code`` (see ``include/sealdb.h``).
"""

import datetime
import re
import time
import weakref
from collections.abc import Mapping
from itertools import islice

from . import _batch
from ._ffi import ffi, lib

__all__ = [
    "apilevel", "threadsafety", "paramstyle", "connect", "open_node", "generate_key_file",
    "Connection", "Cursor", "Warning", "Error", "InterfaceError", "DatabaseError",
    "DataError", "OperationalError", "IntegrityError", "InternalError",
    "ProgrammingError", "NotSupportedError", "Binary", "Date", "Time", "Timestamp",
    "DateFromTicks", "TimeFromTicks", "TimestampFromTicks", "STRING", "BINARY",
    "NUMBER", "DATETIME", "ROWID", "sealdb_version", "restore",
]

apilevel = "2.0"
# Threads may share the module; a connection is not shared between threads
# (the C layer would serialize the calls, but a cursor's state would mix).
threadsafety = 1
paramstyle = "qmark"

sealdb_version = ffi.string(lib.sealdb_version()).decode()

# ---------------------------------------------------------------- exceptions


class Warning(Exception):  # noqa: A001 - the name PEP 249 requires
    """Important warnings (PEP 249); sealdb raises none today."""


class Error(Exception):
    """Base of every sealdb error. ``code`` is the sealdb result code
    (``None`` for errors found in Python before calling sealdb)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class InterfaceError(Error):
    """Misuse of the interface itself (a stale handle, a NULL argument)."""


class DatabaseError(Error):
    """An error in the database (base of the classes below); also raised
    for corruption and authentication failures of stored data (2xx)."""


class DataError(DatabaseError):
    """A value problem: type mismatch, overflow, text that is not UTF-8."""


class OperationalError(DatabaseError):
    """The database's operation failed: I/O, keys, busy, locked, poisoned,
    failed or throttled logins (codes 701, 702), and statements nested too
    deeply (code 605, SQLSTATE 54001, like PostgreSQL drivers)."""


class IntegrityError(DatabaseError):
    """A constraint failed (NOT NULL, UNIQUE, PRIMARY KEY, CHECK, FOREIGN KEY),
    or a trigger's RAISE(ABORT | FAIL | ROLLBACK, msg) ended the statement."""


class InternalError(DatabaseError):
    """An internal error in sealdb (a bug)."""


class ProgrammingError(DatabaseError):
    """SQL or API mistakes: syntax, unknown table, wrong number of
    parameters, use of a closed connection or cursor, and a privilege the
    user lacks (code 700, like PostgreSQL drivers)."""


class NotSupportedError(DatabaseError):
    """A feature sealdb or this module does not support."""


def _error_class(code):
    if code in (lib.SEALDB_ERR_SQL_SYNTAX, lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT,
                lib.SEALDB_ERR_SQL_MISUSE, lib.SEALDB_ERR_INVALID_ARGUMENT,
                lib.SEALDB_ERR_RANGE, lib.SEALDB_ERR_PERMISSION_DENIED):
        return ProgrammingError
    if code == lib.SEALDB_ERR_SQL_CONSTRAINT:
        return IntegrityError
    if code in (lib.SEALDB_ERR_SQL_VALUE, lib.SEALDB_ERR_INVALID_UTF8):
        return DataError
    if code in (lib.SEALDB_ERR_NULL_ARGUMENT, lib.SEALDB_ERR_MISUSE):
        return InterfaceError
    if code == lib.SEALDB_ERR_PANIC:
        return InternalError
    if code == lib.SEALDB_ERR_SQL_TOO_COMPLEX:
        return OperationalError
    group = code // 100
    if group in (1, 3, 4, 7):
        return OperationalError
    return DatabaseError


def _raise(code):
    """Raises the error of the last failed call on this thread."""
    msg = lib.sealdb_errmsg()
    text = ffi.string(msg).decode("utf-8", "replace") if msg != ffi.NULL else ""
    if not text:
        text = ffi.string(lib.sealdb_code_description(code)).decode()
    raise _error_class(code)(text, code)


def _check(code):
    if code != lib.SEALDB_OK:
        _raise(code)
    return code


def _cstr(s, what="argument"):
    if not isinstance(s, str):
        raise ProgrammingError("%s must be a str, not %s" % (what, type(s).__name__))
    try:
        data = s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise DataError("%s is not encodable as UTF-8: %s" % (what, e)) from None
    if b"\0" in data:
        raise ProgrammingError("%s contains a NUL character" % what)
    return data


# ---------------------------------------------------------------- PEP 249 types

Binary = bytes
Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def DateFromTicks(ticks):
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks):
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks):
    return Timestamp(*time.localtime(ticks)[:6])


def _type_kind(decl):
    """The PEP 249 kind of a declared column type, by SQLite's affinity
    rules (datatype3 section 3.1, checked in its order) with dates and times
    split out of NUMERIC: 'number', 'datetime', 'string' or 'binary'."""
    d = decl.upper()
    if "INT" in d:
        return "number"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "string"
    if "BLOB" in d or not d.strip():
        return "binary"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "number"
    if "DATE" in d or "TIME" in d:
        return "datetime"
    return "number"


class _TypeObject:
    """PEP 249's type objects. A ``cursor.description`` type code is the
    column's declared type as written in CREATE TABLE (``'INTEGER'``,
    ``'VARCHAR(20)'``, ``'TIMESTAMP'``; None for an expression), and the
    object compares equal to the declared types of its kind. It also
    compares equal to the value type codes of the C API
    (``SEALDB_TEXT``...)."""

    def __init__(self, kind, *codes):
        self.kind = kind
        self.codes = frozenset(codes)

    def __eq__(self, other):
        if isinstance(other, str):
            return _type_kind(other) == self.kind
        return other in self.codes

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self.kind, self.codes))

    def __repr__(self):
        return "<sealdb type object %s>" % self.kind.upper()


STRING = _TypeObject("string", lib.SEALDB_TEXT)
BINARY = _TypeObject("binary", lib.SEALDB_BLOB)
NUMBER = _TypeObject("number", lib.SEALDB_INTEGER, lib.SEALDB_REAL)
DATETIME = _TypeObject("datetime")  # values are stored as text or numbers
# A rowid is an INTEGER column; PEP 249 asks for no more than that.
ROWID = _TypeObject("number", lib.SEALDB_INTEGER)


# ---------------------------------------------------------------- connect


def generate_key_file(path, bits=256):
    """Writes a new random key (128, 192 or 256 bits) to ``path`` as hex,
    readable only by its owner. Never overwrites an existing file."""
    _check(lib.sealdb_key_file_generate(_cstr(str(path), "path"), bits))


def connect(path, key=None, key_file=None, user=None, password=None, token=None,
            application_name="python", client_address=None, autocommit=False,
            passphrase=None, kdf_memory_kib=0, kdf_iterations=0):
    """Opens the database in directory ``path`` (``":memory:"`` for a
    private in-memory one) and returns a :class:`Connection`.

    ``key`` is the store key (16, 24 or 32 bytes); ``key_file`` a file
    holding it as hex; ``passphrase`` (str or bytes) a passphrase the key is
    derived from with argon2id, at a cost of ``kdf_memory_kib`` KiB and
    ``kdf_iterations`` passes for a new store (0: the default, 64 MiB and
    3), which is also the least accepted from an existing one. Without
    ``user`` the connection is root's, the holder of the key. ``user``
    with ``password`` or ``token`` (and optionally ``client_address`` and
    ``application_name``, which the audit log and host rules see) connects
    as that user.
    """
    db = ffi.new("sealdb_db **")
    given = sum(x is not None for x in (key, key_file, passphrase))
    if path == ":memory:":
        if given:
            raise ProgrammingError("an in-memory database takes no key")
        _check(lib.sealdb_db_open_in_memory(db))
    elif given != 1:
        raise ProgrammingError("connect() needs exactly one of key=, key_file= or passphrase=")
    elif passphrase is not None:
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        if not isinstance(passphrase, (bytes, bytearray, memoryview)):
            raise ProgrammingError("passphrase must be str or bytes, not %s"
                                   % type(passphrase).__name__)
        passphrase = bytes(passphrase)
        _check(lib.sealdb_db_open_passphrase(_cstr(str(path), "path"), passphrase,
                                             len(passphrase), kdf_memory_kib,
                                             kdf_iterations, db))
    elif key is not None:
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise ProgrammingError("key must be bytes, not %s" % type(key).__name__)
        key = bytes(key)
        _check(lib.sealdb_db_open_key(_cstr(str(path), "path"), key, len(key), db))
    else:
        _check(lib.sealdb_db_open_key_file(_cstr(str(path), "path"),
                                           _cstr(str(key_file), "key_file"), db))
    return _connect_db(db, user, password, token, application_name, client_address,
                       autocommit)


def open_node(config, user=None, password=None, token=None, application_name="python",
              client_address=None, autocommit=False):
    """Opens the replicated node described by the configuration file
    ``config`` (TOML: node id, data directory, key file, listen address,
    certificates, initial members; see docs/replication.md), joins its
    cluster over QUIC with mutual TLS, and returns a :class:`Connection`
    to it. The node serves its peers until the connection (and every other
    one to it) is closed. ``user`` and the rest as for :func:`connect`.

    Replication errors are ``OperationalError`` with ``code`` 420 (not the
    leader), 421 (unavailable), 422 (commit outcome unknown: it may or may
    not have happened) or 423 (too stale); a bad configuration is a
    ``ProgrammingError`` (500), a certificate that is not this node's an
    ``OperationalError`` (310).
    """
    db = ffi.new("sealdb_db **")
    _check(lib.sealdb_db_open_node(_cstr(str(config), "config"), db))
    return _connect_db(db, user, password, token, application_name, client_address,
                       autocommit)


def _connect_db(db, user, password, token, application_name, client_address, autocommit):
    db_handle = ffi.gc(db[0], lib.sealdb_db_free)
    try:
        conn = ffi.new("sealdb_conn **")
        if user is None:
            if password is not None or token is not None:
                raise ProgrammingError("password= and token= need user=")
            _check(lib.sealdb_connect_root(db_handle, conn))
        else:
            _connect_user(db_handle, conn, user, password, token, application_name,
                          client_address)
        conn_handle = ffi.gc(conn[0], lib.sealdb_conn_free)
    finally:
        # The connection keeps the store open; the database handle can go.
        ffi.release(db_handle)
    return Connection(conn_handle, autocommit)


def _threads(threads):
    """The ``threads=`` argument of a backup or a restore as the C field
    takes it (None or 0: one per CPU, at most 4)."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, int) \
            or not 0 <= threads < 2 ** 32:
        raise ProgrammingError("threads must be an int from 0 (one per CPU) to 2**32-1")
    return threads


def restore(backup, target, key=None, key_file=None, passphrase=None, backup_key=None,
            backup_key_file=None, threads=None):
    """Restores the backup in directory ``backup`` (with its parent chain)
    into a new store in ``target`` (new or empty), re-encrypted under
    ``key`` (16, 24 or 32 bytes) or the key in ``key_file``. The backup is
    unlocked with ``passphrase`` (the backup's, or for the backup of a
    store keyed by a passphrase that store's passphrase), or the store key
    that wrapped it
    (``backup_key`` / ``backup_key_file``), or else with the new store's
    own key. ``threads``: tables restored at once (default: one per CPU,
    at most 4). Open the result with :func:`connect`."""
    opts = ffi.new("sealdb_restore_options *")
    opts.threads = _threads(threads)
    keep = []
    if passphrase is not None:
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        if not isinstance(passphrase, (bytes, bytearray)) or b"\0" in passphrase:
            raise ProgrammingError("passphrase must be str or bytes without NUL")
        keep.append(ffi.new("char[]", bytes(passphrase)))
        opts.passphrase = keep[-1]
    if backup_key is not None and backup_key_file is not None:
        raise ProgrammingError("give at most one of backup_key= and backup_key_file=")
    if backup_key is not None:
        backup_key = bytes(backup_key)
        keep.append(ffi.new("uint8_t[]", backup_key))
        opts.backup_key = keep[-1]
        opts.backup_key_len = len(backup_key)
    if backup_key_file is not None:
        keep.append(ffi.new("char[]", _cstr(str(backup_key_file), "backup_key_file")))
        opts.backup_key_file = keep[-1]
    src = _cstr(str(backup), "backup")
    dst = _cstr(str(target), "target")
    if (key is None) == (key_file is None):
        raise ProgrammingError("restore() needs exactly one of key= or key_file=")
    if key is not None:
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise ProgrammingError("key must be bytes, not %s" % type(key).__name__)
        key = bytes(key)
        _check(lib.sealdb_restore(src, dst, key, len(key), opts))
    else:
        _check(lib.sealdb_restore_key_file(src, dst, _cstr(str(key_file), "key_file"), opts))


def _connect_user(db, out, user, password, token, application_name, client_address):
    if (password is None) == (token is None):
        raise ProgrammingError("user= needs exactly one of password= or token=")
    address = ffi.NULL if client_address is None else _cstr(str(client_address), "client_address")
    app = ffi.NULL if application_name is None else _cstr(application_name, "application_name")
    if password is not None:
        _check(lib.sealdb_connect(db, _cstr(user, "user"), _cstr(password, "password"),
                                  address, app, out))
    else:
        _check(lib.sealdb_connect_token(db, _cstr(user, "user"), _cstr(token, "token"),
                                        address, app, out))


# ---------------------------------------------------------------- connection

_NO_IMPLICIT_BEGIN = {"SELECT", "VALUES", "EXPLAIN", "PRAGMA", "BEGIN", "COMMIT",
                      "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_COUNTS_CHANGES = {"INSERT", "UPDATE", "DELETE", "REPLACE"}
_FIRST_WORD = re.compile(r"\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*([A-Za-z]+)", re.S)


def _first_word(sql):
    m = _FIRST_WORD.match(sql)
    return m.group(1).upper() if m else ""


class Connection:
    """A connection (PEP 249). Made by :func:`connect`."""

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, handle, autocommit=False):
        self._h = handle
        self.autocommit = autocommit
        self._cursors = weakref.WeakSet()

    def _handle(self):
        if self._h is None:
            raise ProgrammingError("cannot operate on a closed connection")
        return self._h

    @property
    def closed(self):
        return self._h is None

    @property
    def in_transaction(self):
        out = ffi.new("bool *")
        _check(lib.sealdb_in_transaction(self._handle(), out))
        return bool(out[0])

    def _before(self, first_word):
        """Opens the implicit transaction PEP 249 asks for, if due, before a
        statement starting with ``first_word``."""
        if not self.autocommit and first_word not in _NO_IMPLICIT_BEGIN \
                and not self.in_transaction:
            _check(lib.sealdb_begin(self._h))

    def create_login_token(self, valid_for_seconds=3600):
        """A login token for this connection's user, for
        ``connect(..., user=..., token=...)``; call it outside a
        transaction. Only its hash is stored. It lives at most the
        ``server.login_token.max_lifetime`` cluster setting (7 days unless
        changed) and ends when the user's password changes. SQL:
        ``CREATE LOGIN TOKEN [FOR user] [VALID FOR '1 hour']``."""
        out = ffi.new("char **")
        _check(lib.sealdb_create_login_token(self._handle(), valid_for_seconds, out))
        try:
            return ffi.string(out[0]).decode()
        finally:
            lib.sealdb_string_free(out[0])

    def revoke_login_token(self, token_id):
        """Revokes one login token by its id (the 16 hex digits after
        ``sdbt_``): this user's own, or any as an admin. Returns whether it
        existed. Same as ``REVOKE LOGIN TOKEN 'id'``."""
        out = ffi.new("bool *")
        _check(lib.sealdb_revoke_login_token(self._handle(), _cstr(token_id, "token_id"), out))
        return bool(out[0])

    def revoke_login_tokens(self, user=None):
        """Revokes every login token of ``user`` (default: this
        connection's user; others need an admin). Returns how many there
        were. Same as ``REVOKE ALL LOGIN TOKENS FOR user``."""
        out = ffi.new("uint64_t *")
        name = ffi.NULL if user is None else _cstr(user, "user")
        _check(lib.sealdb_revoke_login_tokens(self._handle(), name, out))
        return int(out[0])

    def backup(self, directory, passphrase=None, parent=None, store_key=True,
               kdf_memory_kib=None, kdf_iterations=None, threads=None):
        """Backs the database up into ``directory`` (new or empty) while it
        stays in use: encrypted under the backup's own key, which is
        wrapped by the store key (unless ``store_key=False``) and, with
        ``passphrase`` (str or bytes), by a key derived from it (argon2id;
        ``kdf_memory_kib`` and ``kdf_iterations`` set its cost). With
        ``parent`` (an earlier backup's directory) the backup is
        incremental. ``threads``: files backed up at once (default: one per
        CPU, at most 4; fewer leave more CPU to the database's other work).
        Admins only, audited, outside a transaction (commit first)."""
        opts = ffi.new("sealdb_backup_options *")
        opts.threads = _threads(threads)
        keep = []
        if passphrase is not None:
            if isinstance(passphrase, str):
                passphrase = passphrase.encode("utf-8")
            if not isinstance(passphrase, (bytes, bytearray)) or not passphrase \
                    or b"\0" in passphrase:
                raise ProgrammingError("passphrase must be non-empty str or bytes without NUL")
            keep.append(ffi.new("char[]", bytes(passphrase)))
            opts.passphrase = keep[-1]
        if parent is not None:
            keep.append(ffi.new("char[]", _cstr(str(parent), "parent")))
            opts.parent = keep[-1]
        opts.no_store_key = 0 if store_key else 1
        opts.kdf_memory_kib = kdf_memory_kib or 0
        opts.kdf_iterations = kdf_iterations or 0
        _check(lib.sealdb_backup(self._handle(), _cstr(str(directory), "directory"), opts))

    def checkpoint(self, directory):
        """Writes a consistent copy of the database, as of now, into
        ``directory`` (new or empty, on the database's file system) while
        it stays in use: an ordinary store under the same keys (open it
        with :func:`connect` and the same key, key file or passphrase),
        its tables hard links where the file system allows. Returns
        ``{"sequence": n, "tables": n}``. Admins only, audited, outside a
        transaction (commit first), like ``CHECKPOINT TO``."""
        out = ffi.new("sealdb_checkpoint_report *")
        _check(lib.sealdb_checkpoint(self._handle(), _cstr(str(directory), "directory"), out))
        return {"sequence": int(out.sequence), "tables": int(out.tables)}

    def verify_backup(self, directory, passphrase=None):
        """Checks the backup in ``directory`` and its parent chain without
        restoring it: every file's header, record MACs, size and digest,
        the manifest and the chain's links. It is unlocked with
        ``passphrase`` (str or bytes) or this database's store key.
        Returns ``{"backups": n, "files": n, "bytes": n}``; a tampered,
        truncated or missing file raises :class:`DatabaseError` (a
        corruption code) naming the file, a wrong passphrase or key
        :class:`OperationalError` (305). Admins only, audited, like
        ``VERIFY BACKUP``."""
        keep = []
        pass_arg = ffi.NULL
        if passphrase is not None:
            if isinstance(passphrase, str):
                passphrase = passphrase.encode("utf-8")
            if not isinstance(passphrase, (bytes, bytearray)) or not passphrase \
                    or b"\0" in passphrase:
                raise ProgrammingError("passphrase must be non-empty str or bytes without NUL")
            keep.append(ffi.new("char[]", bytes(passphrase)))
            pass_arg = keep[-1]
        out = ffi.new("sealdb_backup_verify_report *")
        _check(lib.sealdb_backup_verify(self._handle(), _cstr(str(directory), "directory"),
                                        pass_arg, out))
        return {"backups": int(out.backups), "files": int(out.files), "bytes": int(out.bytes)}

    def cursor(self):
        """A new :class:`Cursor` on this connection."""
        self._handle()
        cur = Cursor(self)
        self._cursors.add(cur)
        return cur

    def execute(self, sql, parameters=()):
        """Shortcut: a new cursor's ``execute`` (like ``sqlite3``)."""
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        """Shortcut: a new cursor's ``executemany``."""
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, sql):
        """Runs ``;``-separated statements without parameters, after
        committing any open transaction (like ``sqlite3``)."""
        self.commit()
        _check(lib.sealdb_exec(self._handle(), _cstr(sql, "sql")))

    def commit(self):
        """Commits the open transaction; nothing to do when none is open."""
        if self.in_transaction:
            _check(lib.sealdb_commit(self._h))

    def rollback(self):
        """Rolls back the open transaction; nothing to do when none is open."""
        if self.in_transaction:
            _check(lib.sealdb_rollback(self._h))

    def close(self):
        """Closes the connection, rolling back an uncommitted transaction.
        Its cursors cannot be used afterwards. Closing twice is harmless."""
        if self._h is None:
            return
        # Statements keep the session (and the store) alive: free them first.
        for cur in list(self._cursors):
            cur.close()
        h, self._h = self._h, None
        ffi.release(h)

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, exc_type, exc, tb):
        # Like sqlite3: commit on success, roll back on error; stays open.
        if self._h is None:
            return False
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


# ---------------------------------------------------------------- cursor


class Cursor:
    """A cursor (PEP 249): runs statements and fetches their rows.

    The cursor keeps its last prepared statement: executing the same SQL
    again (a loop of point queries, ``executemany``) only resets and
    rebinds it.

    Rows are read from sealdb in batches (``sealdb_step_batch``): ``execute``
    reads the first row (running the statement and raising its errors), and
    fetching reads further rows a batch at a time, growing from
    ``_FIRST_BATCH`` to ``_MAX_BATCH`` rows; ``fetchmany(n)`` reads at most
    the ``n`` rows it returns. ``executemany`` sends its parameters
    ``_MANY_ROWS`` rows per call (``sealdb_execute_batch``).
    """

    _FIRST_BATCH = 64
    _MAX_BATCH = 4096
    _MANY_ROWS = 1024

    def __init__(self, connection):
        self.connection = connection
        self.arraysize = 1
        self.rowcount = -1
        self.lastrowid = None
        self._stmt = None  # the statement whose result is open in sealdb
        self._rows = iter(())  # rows read from sealdb, not yet returned
        self._batch_size = self._FIRST_BATCH
        self._ncols = 0  # result columns of the last execute
        self._closed = False
        # The last prepared statement, kept for reuse: its SQL, handle,
        # parameter count and first keyword.
        self._cache_sql = None
        self._cache_stmt = None
        self._cache_nparams = 0
        self._cache_word = ""
        # Out-parameters, allocated once.
        self._i32 = ffi.new("int32_t *")
        self._i64 = ffi.new("int64_t *")
        self._u64 = ffi.new("uint64_t *")
        self._ptr = ffi.new("const char **")
        self._batch = ffi.new("sealdb_batch *")

    # -- plumbing

    def _conn_handle(self):
        if self._closed:
            raise ProgrammingError("cannot operate on a closed cursor")
        if self.connection.closed:
            raise ProgrammingError("cannot operate on a cursor of a closed connection")
        return self.connection._h

    def _finish(self):
        """Closes the open result (its snapshot) and drops unread rows;
        keeps the statement."""
        self._rows = iter(())
        if self._stmt is not None:
            s, self._stmt = self._stmt, None
            if not self.connection.closed:
                lib.sealdb_reset(s)

    def _drop_cache(self):
        if self._cache_stmt is not None:
            s, self._cache_stmt, self._cache_sql = self._cache_stmt, None, None
            ffi.release(s)

    def _prepare(self, sql):
        conn = self._conn_handle()
        self._ncols = 0
        self.rowcount = -1
        if sql != self._cache_sql:
            self._finish()
            sql_bytes = _cstr(sql, "sql")
            self._drop_cache()
            word = _first_word(sql)
            self.connection._before(word)
            out = ffi.new("sealdb_stmt **")
            _check(lib.sealdb_prepare(conn, sql_bytes, out))
            stmt = ffi.gc(out[0], lib.sealdb_stmt_free)
            _check(lib.sealdb_bind_parameter_count(stmt, self._i32))
            self._cache_stmt, self._cache_sql = stmt, sql
            self._cache_nparams, self._cache_word = self._i32[0], word
        else:
            # The same statement again: its reset closes the open result
            # too (no separate _finish and reset).
            self._stmt = None
            self._rows = iter(())
            _check(lib.sealdb_reset(self._cache_stmt))
            self.connection._before(self._cache_word)
        return self._cache_stmt

    def _bind_all(self, stmt, parameters):
        wanted = self._cache_nparams
        if isinstance(parameters, Mapping):
            if len(parameters) != wanted:
                raise ProgrammingError(
                    "incorrect number of bindings supplied: the statement uses %d, "
                    "and there are %d supplied" % (wanted, len(parameters)))
            index = self._i32
            for name, value in parameters.items():
                for prefix in (":", "@", "$"):
                    if lib.sealdb_bind_parameter_index(
                            stmt, _cstr(prefix + str(name), "parameter name"),
                            index) == lib.SEALDB_OK:
                        break
                else:
                    raise ProgrammingError("the statement has no parameter named %r" % name)
                self._bind_one(stmt, index[0], value)
            return
        if isinstance(parameters, (str, bytes)) or not hasattr(parameters, "__len__"):
            raise ProgrammingError(
                "parameters must be a sequence or a mapping, not %s" % type(parameters).__name__)
        if len(parameters) != wanted:
            raise ProgrammingError(
                "incorrect number of bindings supplied: the statement uses %d, "
                "and there are %d supplied" % (wanted, len(parameters)))
        for i, value in enumerate(parameters, start=1):
            self._bind_one(stmt, i, value)

    @staticmethod
    def _bind_one(stmt, i, value):
        try:
            code, payload = _batch.to_param(value)
        except OverflowError:
            raise DataError("parameter %d: %d does not fit a 64-bit INTEGER" % (i, value)) from None
        except UnicodeEncodeError as e:
            raise DataError("parameter %d is not encodable as UTF-8: %s" % (i, e)) from None
        except TypeError:
            raise ProgrammingError(
                "parameter %d: type %s is not supported (use None, int, float, str, "
                "bytes or bool)" % (i, type(value).__name__)) from None
        if code == _batch.INTEGER:
            rc = lib.sealdb_bind_int64(stmt, i, payload)
        elif code == _batch.TEXT:
            rc = lib.sealdb_bind_text(stmt, i, payload, len(payload))
        elif code == _batch.REAL:
            rc = lib.sealdb_bind_double(stmt, i, payload)
        elif code == _batch.NULL:
            rc = lib.sealdb_bind_null(stmt, i)
        else:
            rc = lib.sealdb_bind_blob(stmt, i, payload, len(payload))
        if rc != lib.SEALDB_OK:
            _raise(rc)

    def _read_batch(self, size):
        """Reads up to ``size`` more rows of the open result into
        ``_rows``; False (and the result closed) when there are no more."""
        rc = lib.sealdb_step_batch(self._stmt, size, self._batch)
        if rc == lib.SEALDB_ROW:
            try:
                self._rows = _batch.batch_rows(self._batch)
            except _batch.UnknownType as e:
                self._finish()
                raise InternalError("sealdb returned a value of unknown type code %s; "
                                    "is the library newer than this module?" % e) from None
            return True
        if rc == lib.SEALDB_DONE:
            self._finish()
            return False
        try:
            _raise(rc)
        finally:
            self._finish()

    def _more(self, size):
        """Refills ``_rows`` with up to ``size`` rows; False at the end."""
        self._conn_handle()
        if self._stmt is None:
            if self._ncols == 0:
                raise ProgrammingError("no result set: execute a query first")
            return False
        return self._read_batch(size)

    def _next_batch(self):
        """Refills ``_rows`` for fetchone and iteration, with batches that
        grow (a cursor read for a few rows reads few)."""
        size = self._batch_size
        if size < self._MAX_BATCH:
            self._batch_size = size * 4
        return self._more(size)

    @property
    def description(self):
        """One 7-item sequence per result column: its name and its type
        code (the declared type of the table column it reads, which
        ``STRING``, ``NUMBER``, ``BINARY`` and ``DATETIME`` compare equal to;
        None for an expression), the other five None; or None when the last
        statement returned no rows."""
        if self._ncols == 0 or self._cache_stmt is None or self.connection.closed:
            return None
        cols = []
        for i in range(self._ncols):
            _check(lib.sealdb_column_name(self._cache_stmt, i, self._ptr))
            name = ffi.string(self._ptr[0]).decode("utf-8", "replace")
            _check(lib.sealdb_column_decltype(self._cache_stmt, i, self._ptr))
            decl = self._ptr[0]
            code = None if decl == ffi.NULL else ffi.string(decl).decode("utf-8", "replace")
            cols.append((name, code, None, None, None, None, None))
        return tuple(cols)

    def _after_write(self):
        word = self._cache_word
        if word in _COUNTS_CHANGES:
            h = self.connection._h
            _check(lib.sealdb_changes(h, self._u64))
            if word in ("INSERT", "REPLACE"):
                _check(lib.sealdb_last_insert_rowid(h, self._i64))
                self.lastrowid = int(self._i64[0])
            return int(self._u64[0])
        return -1

    # -- PEP 249

    def execute(self, operation, parameters=()):
        """Prepares (or reuses) and runs one statement with ``parameters`` (a
        sequence for ``?``/``?1``, a mapping for ``:name``). Returns the
        cursor."""
        stmt = self._prepare(operation)
        self._stmt = stmt
        self._batch_size = self._FIRST_BATCH
        try:
            self._bind_all(stmt, parameters)
            # Runs the statement and reads its first row, if any.
            self._read_batch(1)
        except BaseException:
            self._finish()
            raise
        self._ncols = self._batch.columns
        if self._ncols == 0:
            self.rowcount = self._after_write()
            self._finish()
        return self

    def executemany(self, operation, seq_of_parameters):
        """Runs a data-changing statement once per parameter set (prepared
        once). ``rowcount`` is the total of rows changed."""
        stmt = self._prepare(operation)
        word = self._cache_word
        total = 0
        params = iter(seq_of_parameters)
        try:
            while True:
                chunk = []
                try:
                    chunk.extend(islice(params, self._MANY_ROWS))
                except BaseException:
                    # The rows before a failing iterator still run, as
                    # they would one by one.
                    if chunk:
                        self._run_many(stmt, chunk)
                    raise
                if not chunk:
                    break
                total += self._run_many(stmt, chunk)
        finally:
            # The rowid of the last row inserted (the previous one if none
            # was), also when a row failed.
            if word in ("INSERT", "REPLACE") and not self.connection.closed and \
                    lib.sealdb_last_insert_rowid(self.connection._h, self._i64) == lib.SEALDB_OK:
                self.lastrowid = int(self._i64[0])
        self.rowcount = total if word in _COUNTS_CHANGES else -1
        return self

    def _run_many(self, stmt, rows):
        """Runs ``stmt`` for each parameter set in ``rows``; the rows
        changed."""
        columns = _batch.param_columns(rows, self._cache_nparams)
        if columns is None:
            return self._run_rows(stmt, rows)
        columns, keep = columns
        rc = lib.sealdb_execute_batch(stmt, len(rows), columns, self._cache_nparams, self._u64)
        del keep  # the buffers the columns point into, held until here
        if rc != lib.SEALDB_OK:
            _raise(rc)
        return int(self._u64[0])

    def _run_rows(self, stmt, rows):
        """``_run_many`` one row at a time, for parameters the bulk path
        does not take (mappings, values that need a conversion or raise)."""
        total = 0
        for parameters in rows:
            _check(lib.sealdb_reset(stmt))
            self._bind_all(stmt, parameters)
            rc = lib.sealdb_step(stmt)
            if rc == lib.SEALDB_ROW:
                lib.sealdb_reset(stmt)
                raise ProgrammingError("executemany() cannot run statements that return rows")
            if rc != lib.SEALDB_DONE:
                _raise(rc)
            _check(lib.sealdb_changes(self.connection._h, self._u64))
            total += int(self._u64[0])
        return total

    def fetchone(self):
        """The next row as a tuple, or None when there are no more."""
        # (A for loop over the iterator is cheaper than next(it, None).)
        for row in self._rows:
            return row
        if self._next_batch():
            return next(self._rows)
        return None

    def fetchmany(self, size=None):
        """Up to ``size`` (default ``arraysize``) more rows, as a list."""
        size = max(self.arraysize if size is None else size, 0)
        rows = list(islice(self._rows, size))
        while len(rows) < size and self._more(size - len(rows)):
            rows.extend(self._rows)
        return rows

    def fetchall(self):
        """All remaining rows, as a list."""
        rows = list(self._rows)
        while self._more(self._MAX_BATCH):
            rows.extend(self._rows)
        return rows

    def __iter__(self):
        return self

    def __next__(self):
        for row in self._rows:
            return row
        if self._next_batch():
            return next(self._rows)
        raise StopIteration

    def close(self):
        """Closes the cursor (frees its statement). Closing twice is harmless."""
        self._finish()
        self._drop_cache()
        self._ncols = 0
        self._closed = True

    def setinputsizes(self, sizes):
        """Does nothing (PEP 249 allows that)."""

    def setoutputsize(self, size, column=None):
        """Does nothing (PEP 249 allows that)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self._drop_cache()
        except Exception:
            pass
