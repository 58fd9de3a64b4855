"""The test-set registry itself, on SQLite and on PostgreSQL: chain, lost entries, real concurrent writers, ledger import, row identity."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import REPO, _env
from registry_backends import registry_url  # noqa: F401  (fixture)

from medtorch.errors import IntegrityError, MedtorchError
from medtorch.registry import location
from medtorch.registry.binding import Opened, check_continuity
from medtorch.registry.identity import row_identities
from medtorch.registry.store import Registry, entries

WRITER = """
import sys
from medtorch.registry.location import normalise
from medtorch.registry.store import Registry
reg = Registry(normalise(sys.argv[1]))
for i in range(int(sys.argv[3])):
    with reg.transaction() as tx:  # as a look does: read the earlier looks, then record the next one
        _, es = tx.verify()
        n = len([e for e in es if e["kind"] == "look"])
        tx.append("look", {"writer": sys.argv[2], "look_on_test_set": n + 1}, test_set="set")
"""


def test_concurrent_writers_never_share_a_look_number(registry_url):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, registry_url, f"w{k}", "6"], env=_env(), cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for k in range(4)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    reg = Registry(location.normalise(registry_url))
    with reg.transaction() as tx:
        head, es = tx.verify()  # every entry present, chain intact
    looks = [e["details"]["look_on_test_set"] for e in es if e["kind"] == "look"]
    assert head.entries == 24 and sorted(looks) == list(range(1, 25))


def _head_after(reg: Registry, n: int):
    with reg.transaction() as tx:
        for i in range(n):
            tx.append("look", {"evaluation": i + 1}, run_id="r" * 32, test_set="set")
        return tx.verify()


def test_lost_and_altered_entries_are_detected(registry_url):
    reg = Registry(location.normalise(registry_url))
    head, _ = _head_after(reg, 3)
    manifest = {"run_id": "r" * 32, "registry": {"url": reg.public_url, "registry_id": head.registry_id, "head": head.to_dict()}}
    opened = Opened(reg, location.Where(reg.url, "test"), manifest["registry"], None)
    with reg.engine.begin() as c:  # truncation: the last entry removed, the chain stays valid
        c.execute(sa.delete(entries).where(entries.c.seq == 3))
    with reg.transaction() as tx:
        now, es = tx.verify()
        with pytest.raises(IntegrityError, match=r"saw 3 entries.*now has 2: entry/entries #3 are missing"):
            check_continuity(opened, now, es, manifest, [])
    with reg.engine.begin() as c:  # an entry in the middle edited
        c.execute(sa.update(entries).where(entries.c.seq == 1).values(body='{"evaluation": 9}'))
    with pytest.raises(IntegrityError, match="entry #1 was altered"), reg.transaction() as tx:
        tx.verify()


def test_default_location_is_per_user_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDTORCH_REGISTRY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert location.resolve().url == f"sqlite:///{tmp_path}/xdg/medtorch/registry.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert location.resolve().url.endswith("/.local/share/medtorch/registry.sqlite")
    assert location.normalise("rel/reg.sqlite") == f"sqlite:///{tmp_path}/rel/reg.sqlite"  # made absolute once
    monkeypatch.setenv("MEDTORCH_REGISTRY", "postgresql://team@db/medtorch")
    assert location.resolve(bound="sqlite:///x") == location.Where("postgresql+psycopg://team@db/medtorch", "$MEDTORCH_REGISTRY")
    assert location.resolve("other.sqlite").source == "--registry"
    monkeypatch.delenv("MEDTORCH_REGISTRY")
    assert location.resolve(bound="sqlite:///x", config_url="y.sqlite").source == "run binding"
    monkeypatch.setenv("MEDTORCH_TEST_LEDGER", "x.jsonl")
    with pytest.raises(MedtorchError, match="medtorch registry import LEDGER"):
        location.resolve()


def test_ledger_import_once_and_edited_ledger_refused(registry_url, tmp_path):
    from medtorch.audit import EventLog
    from medtorch.registry.importer import import_ledger

    ledger = EventLog(tmp_path / "test_ledger.jsonl")
    for n in (1, 2):
        ledger.append("test_look", {"evaluation": n, "run_id": "a" * 32, "role": "hold-out test set", "look_on_test_set": n,
                                    "test_set": {"sha256": "t" * 64}, "development": {"sha256": "d"}})
    reg = Registry(location.normalise(registry_url))
    assert import_ledger(ledger.path, reg)["looks"] == 2
    with pytest.raises(MedtorchError, match="already imported"):
        import_ledger(ledger.path, reg)
    with reg.transaction() as tx:
        _, es = tx.verify()
    assert [e["kind"] for e in es] == ["imported_look", "imported_look", "ledger_imported"]
    lines = ledger.path.read_text().splitlines()
    ledger.path.write_text(lines[0].replace('"evaluation":1', '"evaluation":7') + "\n" + lines[1] + "\n")
    with pytest.raises(IntegrityError):
        import_ledger(ledger.path, Registry(location.normalise(str(tmp_path / "fresh.sqlite"))))


def test_row_identity_rounding_agrees_with_decimal_formatting():
    from medtorch.registry.identity import _numeric

    rng = np.random.default_rng(1)
    x = rng.normal(size=20_000) * 10.0 ** rng.integers(-8, 9, 20_000)
    reference = np.array([float(f"{v:.6g}") for v in x])  # Python's correctly rounded 6 significant digits
    assert (_numeric(x, 6) == _numeric(reference, 6)).all()
    assert (_numeric(x, 6) != _numeric(x * (1 + 1e-4), 6)).any(axis=1).mean() > 0.99


def test_row_identity_rounds_to_significant_digits():
    frame = pd.DataFrame({"a": [0.1, 0.10000000001, 13.54, 13.5405], "b": ["x", "x", "y", "y"]})
    ids = row_identities(frame, np.array(["c"] * 4), None, None, 6)["identities"]
    assert ids[0] == ids[1]  # a re-export's noise below 6 significant digits
    assert ids[2] != ids[3]  # a value shifted by 0.0005 is another record at 6 digits
    subj = row_identities(frame, np.array(["c"] * 4), pd.DataFrame({"pid": [1, 1, 2, 3]}), "pid")
    assert subj["kind"] == "subject" and subj["identities"][0] == subj["identities"][1] != subj["identities"][2]


def _loaded(path):
    from omegaconf import OmegaConf

    from medtorch.data import sources

    cfg = OmegaConf.create({"source": "table", "path": str(path), "format": "auto", "target": "label", "id_column": None,
                            "subject_column": None, "time_column": None, "subgroup_columns": [], "categorical": [],
                            "drop": [], "time_unit": None, "time_origin": None})
    return sources.load(cfg)


def test_a_reexported_file_has_the_same_row_identities_through_the_loader(tmp_path):
    """The loader's extra columns hold a full-precision hash of each raw row; the record identity
    leaves it out (recipe 2), so a re-export that prints the last digit differently keeps its rows'
    identities, and a looked-at set recorded by recipe 1 is still compared like with like."""
    from medtorch.data.sources import RECORD_KEY
    from medtorch.registry.binding import overlaps
    from medtorch.registry.identity import RAW_ROW_HASH, RECIPE

    assert RAW_ROW_HASH == RECORD_KEY
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x1": rng.normal(size=60) * 10, "x2": rng.normal(size=60), "site": rng.choice(["A", "B"], 60),
                          "label": rng.choice(["yes", "no"], 60)})
    frame.to_csv(tmp_path / "a.csv", index=False)
    noisy = frame.assign(x1=frame["x1"] * (1 + 1e-15), x2=frame["x2"].map(lambda v: float(f"{v:.12g}")))
    noisy.to_csv(tmp_path / "b.csv", index=False, float_format="%.12g")
    assert (tmp_path / "a.csv").read_text() != (tmp_path / "b.csv").read_text()

    def identity(path):
        raw = _loaded(path)
        assert RECORD_KEY in raw.extra.columns
        return row_identities(raw.frame, np.asarray(raw.classes, dtype=object)[raw.y], raw.extra, None, 6)

    a, b = identity(tmp_path / "a.csv"), identity(tmp_path / "b.csv")
    assert a["recipe"] == RECIPE == 2 and a["identities"] == b["identities"]
    assert sorted(dict(b["by_recipe"])) == [2]  # recipe 1 is made only when a set of it is compared
    assert a["by_recipe"][1] != b["by_recipe"][1]  # what recipe 1 did: every row looked new
    looked_now = {"t2": {"kind": "record", "digits": 6, "recipe": 2, "identities": a["identities"]}}
    assert overlaps(None, [], b, looked=looked_now)[0]["rows"] == 60
    # a set recorded by recipe 1 (before recipe 2): the same file's rows are still recognised
    looked_before = {"t1": {"kind": "record", "digits": 6, "recipe": 1, "identities": a["by_recipe"][1]}}
    assert overlaps(None, [], identity(tmp_path / "a.csv"), looked=looked_before)[0]["rows"] == 60
    # a recipe this version does not know is refused, not compared by the wrong recipe
    from medtorch.errors import IntegrityError

    with pytest.raises(IntegrityError, match="recipe 9"):
        overlaps(None, [], b, looked={"t9": {"kind": "record", "digits": 6, "recipe": 9, "identities": a["identities"]}})


def test_registry_verbs_import_and_verify(tmp_path):
    from conftest import run_cli

    from medtorch.audit import EventLog

    ledger = EventLog(tmp_path / "test_ledger.jsonl")
    ledger.append("test_look", {"evaluation": 1, "run_id": "a" * 32, "role": "hold-out test set", "look_on_test_set": 1,
                                "test_set": {"sha256": "t" * 64}, "development": {"sha256": "d"}})
    url = str(tmp_path / "team.sqlite")
    p = run_cli("registry", "import", str(ledger.path), "--registry", url)
    assert p.returncode == 0 and "imported 1 look(s)" in p.stdout, p.stderr
    p = run_cli("registry", "verify", "--registry", url)
    assert p.returncode == 0 and "2 entries, chain intact" in p.stdout and "1:H" in p.stdout, p.stderr
    assert run_cli("registry", "import", str(ledger.path), "--registry", url).returncode == 2  # once only


def _cli_in_process(*args: str):
    import contextlib
    import io

    from medtorch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def test_a_mistyped_registry_is_never_created(tmp_path):
    """registry verify needs an existing registry, and a look under another registry than the run's own may start
    a new file only in an existing folder: a mistyped path is refused (exit 2) and no file or folder is created;
    the run's own registry and import still create one on first use."""
    from medtorch.registry.binding import open_for_run

    missing = tmp_path / "typo" / "r.sqlite"
    rc, _, err = _cli_in_process("registry", "verify", "--registry", missing)
    assert rc == 2 and "no such file" in err and "nothing was created" in err, err
    assert not (tmp_path / "typo").exists()
    rc, _, err = _cli_in_process("registry", "verify", "--registry", tmp_path / "new.sqlite")
    assert rc == 2 and "no such file" in err and not (tmp_path / "new.sqlite").exists(), err
    empty = tmp_path / "afile"
    empty.write_bytes(b"")
    rc, _, err = _cli_in_process("registry", "verify", "--registry", empty)
    assert rc == 2 and "not a SQLite database" in err and empty.read_bytes() == b"", err
    own = location.normalise(str(tmp_path / "own.sqlite"))
    Registry(own)  # the run's registry, created when the run was bound
    rc, out, err = _cli_in_process("registry", "verify", "--registry", own)
    assert rc == 0 and "0 entries, chain intact" in out, err
    manifest = {"registry": {"url": location.public(own)}}
    assert open_for_run(manifest, None).override is None
    other = location.normalise(str(tmp_path / "other.sqlite"))  # a new file in an existing folder: an override
    assert open_for_run(manifest, other).override == {"bound": location.public(own), "used": location.public(other),
                                                      "by": "--registry"}
    with pytest.raises(MedtorchError, match="does not exist"):
        open_for_run(manifest, str(missing))
    assert not (tmp_path / "typo").exists()
    rc, _, err = _cli_in_process("registry", "verify", "--registry", own, empty)
    assert rc == 2 and "is a file, not a run directory" in err and "Traceback" not in err, err


@pytest.mark.parametrize("content, message", [(b"\xff\xfe\x00", "line 1 is not a JSON line"),
                                              (b"[1, 2]\n", "line 1 is a JSON list"),
                                              (b"", "holds no test look")])
def test_a_file_that_is_no_ledger_is_refused_before_a_registry_is_opened(tmp_path, content, message):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(content)
    url = tmp_path / "team.sqlite"
    rc, out, err = _cli_in_process("registry", "import", ledger, "--registry", url)
    assert rc == 2 and message in err and "Traceback" not in err, (out, err)
    assert not url.exists()
