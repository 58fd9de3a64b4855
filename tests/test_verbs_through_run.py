"""The later verbs write through ``Run``: none of these modules hashes files or appends events by hand.

``Run.record`` writes, hashes, enters the manifest and logs in one call, so a verb that still calls
``file_hashes(...)`` or ``EventLog(...).append(...)`` itself is one that could log a hash of a file it
did not write, or write a file it never logs. Checked on the source (ast), so it fails the moment a hand
path comes back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import medtorch

CONVERTED = [
    "evaluation/governed.py", "evaluation/amendments.py", "report/build.py", "explain/explanation.py",
    "stack/reference.py", "stack/bridge.py", "data/governance.py", "survival/leakage.py", "survival/monitor.py",
    "survival/report.py", "survival/eda.py", "survival/evaluate.py", "survival/bridge.py", "survival/cox_baseline.py",
    "deploy/predict.py", "deploy/monitor.py", "survival/governed.py", "survival/explain.py", "survival/explain_later.py",
]


def _hand_writes(source: str) -> list[str]:
    """Calls of ``file_hashes``, ``write_json``/``write_text`` and ``EventLog(...)``/``log.append`` in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name in ("file_hashes", "write_json", "write_text"):
            found.append(f"line {node.lineno}: {name}(...)")
        elif name == "append" and isinstance(f, ast.Attribute) and (
                (isinstance(f.value, ast.Call) and getattr(f.value.func, "id", "") == "EventLog")
                or getattr(f.value, "id", "") == "log"):
            found.append(f"line {node.lineno}: an event appended by hand")
    return found


@pytest.mark.parametrize("module", CONVERTED)
def test_verb_writes_only_through_run(module):
    path = Path(medtorch.__file__).parent / module
    assert _hand_writes(path.read_text(encoding="utf-8")) == [], f"{module} writes or logs by hand"


def test_the_check_sees_a_hand_write():
    hand = ("write_json(rd.leakage, report)\n"
            "EventLog(rd.events).append('leakage_checked', {}, outputs=file_hashes(rd.root, [rd.leakage]))\n")
    assert len(_hand_writes(hand)) == 3
