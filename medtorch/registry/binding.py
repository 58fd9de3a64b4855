"""A run and its registry: bound when the run is split, checked at every later look.

At training time (``bind_run``) the run records in its manifest which registry it is bound to
(URL without password, the registry's id, the head it saw), checks its development rows
(train + validation) and its test rows against every looked-at row, and records development
that saw looked-at rows in the registry too. A multirun job also records its *family* (the
sweep it belongs to), so the members' looks at one test set count as one family look.

At a look (``open_for_run`` then ``check_continuity``) the run's own records are authoritative:
a registry that lost entries the run saw, was replaced, or knows fewer looks by this run than
the run's event log records is an integrity failure (EXIT_INTEGRITY), never a "first look".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.coincidence import judge_matches
from medtorch.errors import IntegrityError
from medtorch.hashing import sha256_json
from medtorch.registry import location
from medtorch.registry.identity import RECIPES, row_identities
from medtorch.registry.store import Head, Registry

LOOK_KINDS = ("look", "imported_look")


def judge(ref: list[str], query: list[str], kind: str):
    """Same case or coincidence (``medtorch.data.coincidence``): a shared subject is always the same case."""
    subj = kind == "subject"
    return judge_matches(ref, query, ref_subjects=ref if subj else None, query_subjects=query if subj else None)


def looked_sets(tx, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every test set with recorded row identities: ``{sha256: {kind, digits, identities, first_look}}``."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e["kind"] == "test_rows":
            out[e["test_set"]] = {"kind": e["details"]["identity_kind"], "digits": e["details"]["digits"],
                                  "recipe": e["details"].get("recipe", 1),  # entries before recipes: recipe 1
                                  "identities": tx.identities(e["test_set"]), "entry": e["seq"]}
    return out


def overlaps(tx, entries, identity: dict[str, Any], skip: str | None = None,
             looked: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Looked-at test sets that share the same cases with these rows (same identity kind and digits only)."""
    found = []
    for sha, s in (looked_sets(tx, entries) if looked is None else looked).items():
        if sha == skip or s["kind"] != identity["kind"] or s["digits"] != identity["digits"]:
            continue
        # the new rows' identities made by the recipe the looked-at set was recorded with
        recipe, mine = s.get("recipe", 1), identity["by_recipe"]
        if recipe not in mine:
            raise IntegrityError(f"test set {sha[:16]}... in the registry holds row identities of recipe {recipe}, which "
                                 f"this medtorch does not know (it knows {list(RECIPES)}); a newer medtorch recorded it. "
                                 "Upgrade medtorch to compare rows with it.")
        v = judge(s["identities"], mine[recipe], s["kind"])
        if v.same_case:
            found.append({"test_set": sha, "rows": v.n_matched, "of": v.n_query, "reason": v.reason})
    return found


def family() -> dict[str, Any] | None:
    """The multirun this job belongs to (one family look per test set), or None outside a Hydra multirun."""
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if str(hc.mode) not in ("RunMode.MULTIRUN", "MULTIRUN"):
        return None
    sweep = str(Path(hc.sweep.dir).resolve())
    return {"id": sha256_json({"sweep_dir": sweep}), "sweep_dir": sweep, "job": int(hc.job.num)}


def _labels(part, classes) -> np.ndarray:
    return np.asarray(classes, dtype=object)[part.y]


def bind_run(cfg, splits, classes: list[str], manifest: dict[str, Any]) -> dict[str, Any]:
    """Bind a new run to its registry and check its rows against every looked-at row; returns manifest['registry']."""
    where = location.resolve(None, None, cfg.registry.url)
    reg = Registry(where.url)
    digits, subject = int(cfg.registry.row_digits), cfg.data.subject_column
    kind = "subject" if subject and subject in splits.train.extra.columns else "record"  # as row_identities decides
    dev = [splits.train, splits.val]
    saw, test_seen = [], []
    with reg.transaction() as tx:
        head, entries = tx.verify()
        looked = looked_sets(tx, entries)
        # the rows' identities (a sha256 per row: 0.65 s for 200,000 rows) only where a looked-at test set
        # of the same identity kind and digits could share rows with them
        if any(s["kind"] == kind and s["digits"] == digits for s in looked.values()):
            dev_identity = row_identities(pd.concat([p.frame for p in dev], ignore_index=True),
                                          np.concatenate([_labels(p, classes) for p in dev]),
                                          pd.concat([p.extra for p in dev], ignore_index=True), subject, digits)
            test_identity = row_identities(splits.test.frame, _labels(splits.test, classes), splits.test.extra, subject,
                                           digits)
            saw = overlaps(tx, entries, dev_identity, looked=looked)
            test_seen = overlaps(tx, entries, test_identity, looked=looked)
        if saw:
            tx.append("development_saw", {"test_sets": saw, "identity_kind": kind}, run_id=manifest["run_id"])
            head, _ = tx.verify()
    return {"url": reg.public_url, "source": where.source, "registry_id": head.registry_id, "head": head.to_dict(),
            "row_identity": {"kind": kind, "digits": digits}, "development_saw": saw,
            "test_rows_looked_at_before": test_seen, "family": family()}


@dataclass
class Opened:
    registry: Registry
    where: location.Where
    bound: dict[str, Any] | None
    override: dict[str, Any] | None  # {"bound": url, "used": url, "by": source} when not the run's registry


def open_for_run(manifest: dict[str, Any], flag: str | None) -> Opened:
    bound = manifest.get("registry")
    where = location.resolve(flag, bound["url"] if bound else None, None)
    # another registry than the run's own (an override, recorded in the look and printed) may be a new file, but
    # never in a folder that does not exist: a mistyped path would otherwise create folders and a registry at their end
    reg = Registry(where.url, make_folder=bound is None or location.public(where.url) == bound["url"])
    override = None
    if bound is None:
        override = {"bound": None, "used": reg.public_url, "by": where.source,
                    "note": "the run was trained before test-set registries and is bound to none"}
    elif reg.public_url != bound["url"]:
        override = {"bound": bound["url"], "used": reg.public_url, "by": where.source}
    return Opened(reg, where, bound, override)


def check_continuity(opened: Opened, head: Head, entries: list[dict[str, Any]], manifest: dict[str, Any],
                     events: list[dict[str, Any]]) -> None:
    """Refuse (EXIT_INTEGRITY) a registry that lost entries this run saw, was replaced, or misses looks of this run."""
    url, problems = opened.registry.public_url, []
    seen = []
    if opened.bound and opened.override is None:
        seen.append(("the run's binding at training", opened.bound["head"]))
    looks = [e for e in events if e["action"] == "test_evaluated"]
    known = {e["details"].get("evaluation") for e in entries
             if e["kind"] in LOOK_KINDS and e["run_id"] == manifest["run_id"]}
    missing = []
    for e in looks:
        r, n = e["details"].get("registry") or {}, e["details"]["evaluation"]
        if not r.get("head"):  # a look recorded in a JSONL ledger: known once the ledger is imported
            if n not in known:
                missing.append(n)
        elif r["head"]["registry_id"] == head.registry_id or r.get("url") == url:
            seen.append((f"test evaluation {n}", r["head"]))  # its own entry must still be there, unchanged
        else:
            missing.append(n)  # recorded in another registry (a copy of the run does not make it known)
    for label, h in seen:
        if h["registry_id"] != head.registry_id:
            problems.append(f"{label} saw registry id {h['registry_id'][:12]}... with {h['entries']} entries, but {url} now "
                            f"has id {head.registry_id[:12]}... ({head.entries} entries): the registry was replaced "
                            "(or its file deleted and created anew)")
        elif h["entries"] > head.entries:
            gone = f"#{head.entries + 1}" + (f"..#{h['entries']}" if h["entries"] > head.entries + 1 else "")
            problems.append(f"{label} saw {h['entries']} entries, but {url} now has {head.entries}: entry/entries "
                            f"{gone} are missing (the registry was truncated)")
        elif h["entries"] and entries[h["entries"] - 1]["hash"] != h["hash"]:
            problems.append(f"{label} saw entry #{h['entries']} with hash {h['hash'][:12]}..., but {url} holds another "
                            "entry there (the registry was rewritten)")
    if missing:
        problems.append(f"the run's event log records test evaluation(s) {missing}, which registry {url} does not know: "
                        "it lost them, or it is not the registry those looks were recorded in")
    if problems:
        bound = f" The run is bound to {opened.bound['url']}." if opened.bound else ""
        raise IntegrityError(f"test-set registry {url} does not hold what this run saw:\n  - " + "\n  - ".join(problems)
                             + f"\n{bound} Restore the registry from its backup (or use the one the run was evaluated "
                             "under with --registry URL); a look is not recorded against an incomplete registry.")
