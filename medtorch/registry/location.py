"""Which registry a command uses, and where the default one lives.

Order: ``--registry URL`` on the verb, then ``$MEDTORCH_REGISTRY``, then (for a run) the
registry the run is bound to, then ``registry.url`` in the config, then the default SQLite
file ``$XDG_DATA_HOME/medtorch/registry.sqlite`` (``~/.local/share/medtorch/registry.sqlite``).
The default never depends on the working directory; a plain path is made absolute once and
recorded that way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medtorch.errors import MedtorchError

ENV = "MEDTORCH_REGISTRY"
RETIRED_ENV = "MEDTORCH_TEST_LEDGER"
IMPORT_HINT = ("The JSONL ledger is retired: looks are recorded in the project's test-set registry (a database). "
               "Move an existing ledger into it once with: medtorch registry import LEDGER [--registry URL]; "
               "then point every run at the registry with registry.url=URL, $MEDTORCH_REGISTRY or --registry.")


@dataclass(frozen=True)
class Where:
    """A registry URL and what chose it (``--registry``, ``$MEDTORCH_REGISTRY``, ``run binding``, ``registry.url``, ``default``)."""

    url: str
    source: str


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "medtorch" / "registry.sqlite"


def normalise(url_or_path: str) -> str:
    """A SQLAlchemy URL; a plain path (or a relative sqlite URL) becomes an absolute sqlite URL."""
    text = str(url_or_path).strip()
    if not text:
        raise MedtorchError("registry: an empty URL was given; expected e.g. postgresql://host/db or a SQLite file path.")
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////") and text != "sqlite:///:memory:":
        return f"sqlite:///{Path(text[len('sqlite:///'):]).expanduser().resolve()}"
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        return "postgresql+psycopg://" + text.split("://", 1)[1]  # psycopg 3 (medtorch[postgres])
    return text


def resolve(flag: str | None = None, bound: str | None = None, config_url: str | None = None) -> Where:
    """The registry to use (see the module docstring for the order)."""
    retired()
    if flag:
        return Where(normalise(flag), "--registry")
    if os.environ.get(ENV):
        return Where(normalise(os.environ[ENV]), f"${ENV}")
    if bound:
        return Where(bound, "run binding")
    if config_url:
        return Where(normalise(config_url), "registry.url")
    return Where(f"sqlite:///{default_path()}", "default")


def retired() -> None:
    """Refuse the retired ledger environment variable with the way forward."""
    if os.environ.get(RETIRED_ENV):
        raise MedtorchError(f"${RETIRED_ENV}={os.environ[RETIRED_ENV]} is no longer used. {IMPORT_HINT} "
                            f"Unset ${RETIRED_ENV} to continue.")


def public(url: str) -> str:
    """The URL without its password (what manifests, events and outputs show)."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return url
    return u._replace(password=None).render_as_string(hide_password=False) if u.password else url
