"""One reading of the run, from which every statement of the report is made.

Test looks and their roles come from the run's own event log (each ``test_evaluated`` event
records the registry's answer at that look), bridge results per stack from ``bridge_evaluated``
events, CV membership from the directory layout. Sections read this, never the files again,
so no two sections can tell different stories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtorch.report.blocks import load_structured

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence


@dataclass
class Look:
    number: int  # 1 for the first look at the test set
    time_utc: str
    role: str  # as recorded at the look (e.g. "hold-out test set")
    passed: bool | None
    folder: str | None  # test_evaluations/NNN, when it is still there
    superseded_by: int | None = None  # a later look on the same rows
    role_now: str | None = None  # with the demotions applied (medtorch.registry.current), when known
    note: str | None = None


@dataclass
class Bridge:
    stack_hash: str
    passed: bool | None
    time_utc: str
    training_stack: bool  # the run's own stack: the reference, not a bridge


@dataclass
class Story:
    training_stack: str | None
    looks: list[Look] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    cv_root: Path | None = None  # the CV root when this run is one of its folds
    latest_evaluation: dict[str, Any] | None = None
    cv_fold: str | None = None  # "fold i of K (strategy)"

    @property
    def test_status(self) -> str:
        if not self.looks:
            return "sealed: no look at the test set is recorded"
        last = self.looks[-1]
        return (f"opened: {len(self.looks)} look(s) at the test set recorded; the latest (look {last.number}) has "
                f"the role '{look_role(last)}'")


def _read(path: Path) -> Any:
    try:
        return load_structured(path) if path.is_file() else None
    except ValueError:
        return None


def read_story(ev: "Evidence") -> Story:
    stack = (ev.manifest.get("stack") or {}).get("hash")
    story = Story(stack)
    folders = ev.rd.test_evaluation_files
    by_number = {}
    for p in folders:
        rec = _read(p)
        if isinstance(rec, dict) and rec.get("evaluation") is not None:
            by_number[int(rec["evaluation"])] = (str(p.parent.relative_to(ev.root)), rec)
    for e in ev.events:
        action, d = e.get("action"), e.get("details") or {}
        if action == "test_evaluated":
            n = int(d.get("evaluation") or len(story.looks) + 1)
            folder, _ = by_number.get(n, (None, None))
            story.looks.append(Look(n, str(e.get("time_utc")), str(d.get("role") or "not recorded"),
                                    d.get("passed"), folder))
        elif action == "bridge_evaluated":
            h = str(d.get("stack_hash"))
            story.bridges = [b for b in story.bridges if b.stack_hash != h]  # the latest result per stack
            story.bridges.append(Bridge(h, d.get("passed"), str(e.get("time_utc")), h == stack))
    for earlier, later in zip(story.looks, story.looks[1:]):
        earlier.superseded_by = later.number
    _apply_current_roles(ev, story.looks)
    if story.looks and story.looks[-1].number in by_number:
        story.latest_evaluation = by_number[story.looks[-1].number][1]
    cv = ev.manifest.get("cv") or {}
    if cv:  # membership from the run's own manifest: the CV root's summary may not exist yet
        story.cv_root = ev.root.parent
        story.cv_fold = f"fold {cv.get('fold')} of {cv.get('folds')} ({cv.get('strategy')})"
    return story


def _apply_current_roles(ev: "Evidence", looks: list[Look]) -> None:
    """The same roles ``medtorch show`` and the ledger section give: one role per test set once it is
    demoted (medtorch.registry.current); the roles recorded at each look remain when that cannot be read."""
    try:
        from medtorch.registry.current import current_roles

        roles = {int(r["evaluation"]): r for r in current_roles(ev.rd, ev.manifest)[0]}
    except Exception:  # an artefact from before the registry, or an unreadable one: the event log's roles stand
        return
    for lk in looks:
        r = roles.get(lk.number)
        if r is not None:
            lk.role_now, lk.note = str(r["role"]), str(r.get("note") or "")


def look_role(look: Look) -> str:
    """The role as a reader needs it: what it was then, and whether a later look superseded it."""
    if look.role_now is not None:
        return look.note if look.note.startswith("hold-out at the time") else look.role_now
    if look.superseded_by is not None and "hold-out" in look.role:
        return f"hold-out at the time, superseded by look {look.superseded_by}"
    return look.role
