"""Registry back-ends for tests: a SQLite file per test, and a fresh PostgreSQL database per test.

PostgreSQL comes from $MEDTORCH_TEST_POSTGRES_URL (``.ci/run`` starts a server and sets it).
Without it the PostgreSQL tests skip and say why, except under CI=true, where a missing
server fails the test, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

PG_ENV = "MEDTORCH_TEST_POSTGRES_URL"


def _pg_missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but no PostgreSQL server for the registry tests: {reason}")
    pytest.skip(f"no PostgreSQL server for the registry tests ({reason}); set {PG_ENV}=postgresql://user:pw@host/db")


def postgres_url() -> str:
    """A new empty database on the test server (dropped by ``drop_postgres``)."""
    base = os.environ.get(PG_ENV)
    if not base:
        _pg_missing(f"${PG_ENV} is not set")
    import sqlalchemy as sa

    try:
        eng = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
        name = f"medtorch_t_{uuid.uuid4().hex[:12]}"
        with eng.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # driver missing, server down, no CREATEDB right
        _pg_missing(f"{type(e).__name__}: {e}")
    return base.rsplit("/", 1)[0] + "/" + name


def drop_postgres(url: str) -> None:
    import sqlalchemy as sa

    base = os.environ[PG_ENV].replace("postgresql://", "postgresql+psycopg://", 1)
    eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path: Path):
    if request.param == "sqlite":
        yield str(tmp_path / "registry.sqlite")
        return
    url = postgres_url()
    yield url
    drop_postgres(url)
