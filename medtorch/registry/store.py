"""The registry's tables and its one hash-chained list of entries (SQLAlchemy Core).

Tables: ``meta`` (the registry's id, made once when it is created), ``entries`` (every act:
a look, a test set's row identities, a development that saw looked-at rows, an imported
ledger line; each with the hash of the previous entry and its own hash) and ``test_rows``
(the identity of every looked-at row; each test set's list is hashed into its entry).

Every change runs in one transaction that first takes the registry's write lock (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock), so a reader of the
earlier looks and the writer of the next look are one atomic step: no two processes share a
look number, whichever host they run on. SQLite runs in WAL mode (readers never block the
writer); on a network file system use PostgreSQL, since SQLite's locking is unsafe there.
"""

from __future__ import annotations

import getpass
import json
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from medtorch.errors import IntegrityError, MedtorchError
from medtorch.hashing import canonical_json, sha256_bytes
from medtorch.registry.location import public

GENESIS = "0" * 64
_md = sa.MetaData()
meta = sa.Table("medtorch_meta", _md, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text, nullable=False))
entries = sa.Table(
    "medtorch_entries", _md,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("time_utc", sa.String(32), nullable=False),
    sa.Column("user_name", sa.String(128), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("test_set", sa.String(64), index=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
test_rows = sa.Table(
    "medtorch_test_rows", _md,
    sa.Column("test_set", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("identity", sa.String(64), nullable=False, index=True),
)
_LOCK_KEY = 0x6D6564746F7263  # "medtorc": PostgreSQL advisory lock of the registry


def entry_hash(e: dict[str, Any]) -> str:
    body = {k: e[k] for k in ("seq", "kind", "time_utc", "user_name", "host", "run_id", "test_set", "body", "prev_hash")}
    return sha256_bytes(canonical_json(body).encode("utf-8"))


@dataclass(frozen=True)
class Head:
    registry_id: str
    entries: int
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"registry_id": self.registry_id, "entries": self.entries, "hash": self.hash}


def _wal(dbapi_conn, wait_s: float = 120.0) -> None:
    """Put a SQLite registry in WAL mode. Switching a new file to WAL needs its exclusive lock, and SQLite answers
    "database is locked" at once, without its busy handler, when another process holds a lock meanwhile (writers
    opening a fresh registry together); so the switch is retried here for up to ``wait_s``. Once the file is in WAL
    mode (which persists) the pragma takes no lock."""
    import sqlite3
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _engine(url: str, make_folder: bool = True) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:" and not Path(path).parent.is_dir():
            if not make_folder:
                raise MedtorchError(f"registry {public(url)}: the folder {Path(path).parent} does not exist; give the path of "
                                    "an existing registry, or a new file in an existing folder (nothing was created).")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        eng = sa.create_engine(url, connect_args={"timeout": 120}, poolclass=sa.pool.NullPool)

        @sa.event.listens_for(eng, "connect")
        def _on_connect(dbapi_conn, _record):  # SQLAlchemy's recipe: let us issue BEGIN ourselves
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA busy_timeout=120000")
            _wal(dbapi_conn)

        @sa.event.listens_for(eng, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, taken before anything is read

        return eng
    try:
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    except ModuleNotFoundError as e:
        raise MedtorchError(f"registry {public(url)}: the database driver is not installed ({e.name}); "
                            "install it with: pip install 'medtorch[postgres]'") from None
    except sa.exc.ArgumentError as e:
        raise MedtorchError(f"registry {url!r} is not a database URL ({e}); expected e.g. "
                            "postgresql://user@host/db or a SQLite file path.") from None


def _refuse_a_missing_sqlite_file(url: str) -> None:
    """Connecting to SQLite creates the file (and this module its folder); an existing registry is a SQLite database
    file, recognised by its 16-byte header, read without opening it as a database."""
    path = url.split(":///", 1)[-1] if url.startswith("sqlite") else None
    if not path or path == ":memory:":
        return
    if not Path(path).is_file():
        raise MedtorchError(f"registry {public(url)}: no such file; give the path of an existing registry (nothing was created).")
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise MedtorchError(f"registry {public(url)}: not a SQLite database (nothing was changed); give the path of an "
                                "existing registry.")


class Registry:
    """One registry database. Use ``with reg.transaction() as tx:`` for every read-then-write."""

    def __init__(self, url: str, create: bool = True, make_folder: bool = True) -> None:
        """``create=False``: the registry must already exist (EXIT_BAD_INPUT otherwise), nothing is created or
        changed to find out (``registry verify``). ``make_folder=False``: a new SQLite file only in an existing
        folder: a mistyped path must not create a tree of folders and a registry at its end."""
        self.url = url
        self.public_url = public(url)
        if not create:
            _refuse_a_missing_sqlite_file(url)
        self.engine = _engine(url, make_folder)
        if not create:
            try:
                with self.engine.connect() as conn:
                    present = sa.inspect(conn).has_table(meta.name)
            except sa.exc.DBAPIError as e:
                raise MedtorchError(f"registry {self.public_url}: cannot be reached ({str(e.orig).strip()}).") from None
            if not present:
                raise MedtorchError(f"registry {self.public_url}: the database holds no medtorch registry; give the URL of "
                                    "an existing one (nothing was created).")
        with self.transaction():
            pass  # creates the tables and the registry id on first use

    @contextmanager
    def transaction(self) -> Iterator["Tx"]:
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                _md.create_all(conn)
                yield Tx(conn, self)
        except sa.exc.DBAPIError as e:  # server down, wrong credentials, no right to create the tables
            raise MedtorchError(f"registry {self.public_url}: cannot be reached or written ({str(e.orig).strip()}). "
                                "Check the URL (--registry, $MEDTORCH_REGISTRY, registry.url) and that the server runs.") from None


class Tx:
    """The registry inside one locked transaction."""

    def __init__(self, conn: sa.Connection, reg: Registry) -> None:
        self.conn, self.reg = conn, reg
        self.registry_id = self._registry_id()

    def _registry_id(self) -> str:
        row = self.conn.execute(sa.select(meta.c.value).where(meta.c.key == "registry_id")).first()
        if row:
            return row[0]
        rid = uuid.uuid4().hex
        self.conn.execute(meta.insert(), [{"key": "registry_id", "value": rid}])
        return rid

    def all_entries(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(entries).order_by(entries.c.seq)).mappings().all()
        return [dict(r) for r in rows]

    def verify(self) -> tuple[Head, list[dict[str, Any]]]:
        """Check every entry's hash and link and every test set's row identities; return the head and the entries."""
        prev, out = GENESIS, self.all_entries()
        for n, e in enumerate(out, start=1):
            if e["seq"] != n or e["prev_hash"] != prev:
                raise IntegrityError(f"registry {self.reg.public_url}: entry {n} does not follow entry {n - 1} "
                                     f"(found entry #{e['seq']}); entries were deleted, inserted or reordered.")
            if entry_hash(e) != e["hash"]:
                raise IntegrityError(f"registry {self.reg.public_url}: entry #{n} was altered after it was written.")
            prev = e["hash"]
            e["details"] = json.loads(e["body"])
            if e["kind"] == "test_rows" and self.identities_sha256(e["test_set"]) != e["details"]["identities_sha256"]:
                raise IntegrityError(f"registry {self.reg.public_url}: the row identities of test set "
                                     f"{e['test_set'][:12]}... differ from those recorded in entry #{n}.")
        return Head(self.registry_id, len(out), prev), out

    def append(self, kind: str, details: dict[str, Any], run_id: str | None = None, test_set: str | None = None,
               time_utc: str | None = None) -> dict[str, Any]:
        from medtorch.audit import utc_now

        last = self.conn.execute(sa.select(entries.c.seq, entries.c.hash).order_by(entries.c.seq.desc()).limit(1)).first()
        try:
            user = getpass.getuser()
        except Exception:  # no login name (containers)
            user = "unknown"
        e = {"seq": (last[0] + 1) if last else 1, "kind": kind, "time_utc": time_utc or utc_now(), "user_name": user,
             "host": socket.gethostname(), "run_id": run_id, "test_set": test_set,
             "body": canonical_json(details), "prev_hash": last[1] if last else GENESIS}
        e["hash"] = entry_hash(e)
        self.conn.execute(entries.insert(), [e])
        return {**e, "details": details}

    def identities(self, test_set: str) -> list[str]:
        q = sa.select(test_rows.c.identity).where(test_rows.c.test_set == test_set).order_by(test_rows.c.position)
        return [r[0] for r in self.conn.execute(q)]

    def identities_sha256(self, test_set: str) -> str:
        return sha256_bytes("\n".join(self.identities(test_set)).encode())

    def add_test_rows(self, test_set: str, identity: dict[str, Any], run_id: str) -> bool:
        """Record the identities of a test set's rows (once per test set); True when they were new."""
        if self.conn.execute(sa.select(test_rows.c.test_set).where(test_rows.c.test_set == test_set).limit(1)).first():
            return False
        values = identity["identities"]
        self.conn.execute(test_rows.insert(), [{"test_set": test_set, "position": i, "identity": v} for i, v in enumerate(values)])
        self.append("test_rows", {"identity_kind": identity["kind"], "digits": identity["digits"],
                                  "recipe": identity.get("recipe", 1), "rows": len(values),
                                  "identities_sha256": sha256_bytes("\n".join(values).encode())},
                    run_id=run_id, test_set=test_set)
        return True
