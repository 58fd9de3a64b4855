"""Atomic writes and JSON reading for the run directory.

Every write goes to a temporary file beside its target that is renamed into place, so a crash
never leaves a half-written artefact. ``medtorch.run`` re-exports these; the event log
(``medtorch.audit``) imports them from here so that ``run`` may import the log without a cycle.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from medtorch.artefacts import artefact
from medtorch.errors import IntegrityError, MedtorchError


_PLAIN = (str, int, bool, type(None))


def _jsonable(obj: Any) -> Any:
    """Turn NaN/inf into None and numpy scalars into Python ones, recursively."""
    t = type(obj)
    if t is float:  # the common leaves first, by exact type (160,000 numbers: 0.006 s, against 0.026 s by hasattr)
        return obj if math.isfinite(obj) else None
    if t in _PLAIN:
        return obj
    if t is list and all(type(v) is float for v in obj):
        return [v if math.isfinite(v) else None for v in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _umask() -> int:
    """The process's umask: from /proc on Linux; elsewhere by setting it and putting it back (os has no getter)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file 0600; evidence is read by QA on shared project directories,
        # so it gets the mode any new file gets under the user's umask (0644 under 022)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


VERSIONS = artefact("kept_version").path.split("/")[0]  # earlier versions of versioned artefacts: <path>@<first 16 hex of its sha256>


def keep_previous_version(root: str | Path, paths: list[Path]) -> list[Path]:
    """Before a versioned artefact (a report, a bridge report) is rewritten, move its current version to
    ``versions/<path>@<sha256[:16]>``, so that every version the event log recorded stays verifiable
    (``medtorch.integrity`` checks each kept version against the hash recorded for the original name)."""
    from medtorch.hashing import sha256_file

    root, kept = Path(root), []
    for path in map(Path, paths):
        if path.is_file():
            rel = path.resolve().relative_to(root.resolve()).as_posix()
            dst = root / VERSIONS / f"{rel}@{sha256_file(path)[:16]}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dst)
            kept.append(dst)
    return kept


def original_path(root: str | Path, kept: str | Path) -> Path:
    """The path a version kept by ``keep_previous_version`` had in the run: ``versions/<path>@<sha16>`` -> ``<path>``."""
    rel = Path(kept).resolve().relative_to((Path(root) / VERSIONS).resolve()).as_posix()
    return Path(root) / rel.rsplit("@", 1)[0]


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """JSON indented by two spaces, each list of plain values on one line; NaN/inf as null.

    A list of numbers on one line reads better than one number a line, and it is encoded by
    json's C encoder: ``json.dumps(indent=2)`` always takes the pure-Python encoder (the monitoring
    reference's 160,000 numbers: 0.06 s, against 0.11 s). ``json.loads`` reads back the same values.
    """
    return _dumps(_jsonable(obj), 0)


def _numbers(v: Any) -> bool:
    return type(v) is list and all(type(x) in (int, float, type(None)) for x in v)


def _dumps(o: Any, level: int) -> str:
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    if type(o) is list and o and all(_numbers(v) for v in o):  # a matrix of numbers: one row a line, one C call
        return "[" + inner + json.dumps(o, allow_nan=False)[1:-1].replace("], [", "]," + inner + "[") + outer + "]"
    if isinstance(o, dict):
        parts = [json.dumps(str(k)) + ": " + _dumps(v, level + 1) for k, v in o.items()]
    elif isinstance(o, list) and any(isinstance(v, (dict, list)) for v in o):
        parts = [_dumps(v, level + 1) for v in o]
    else:
        return json.dumps(o, allow_nan=False)
    if not parts:
        return "{}" if isinstance(o, dict) else "[]"
    opening, closing = ("{", "}") if isinstance(o, dict) else ("[", "]")
    return opening + inner + ("," + inner).join(parts) + outer + closing


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, dumps(obj) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MedtorchError(f"{path}: file not found. Is this a medtorch run directory?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IntegrityError(f"{path}: not valid JSON ({e}); the file is corrupt or was edited.") from None
