"""Exit codes are named, never spelled as numbers, outside ``medtorch/errors.py``.

``EXIT_CODES`` in ``medtorch/errors.py`` is the one table (the README's table is generated from it:
``tests/test_integrity_runs.py::test_the_readme_exit_code_table_is_the_one_in_errors``). A number
typed anywhere else drifts from it: ``stack/gate.py`` once documented 4 for a code that was 7. So
code passes no integer literal to ``sys.exit``/``SystemExit``, assigns none to an ``exit_code``,
and a verb's ``run``/``main`` returns none; docstrings, comments and messages name the code
(``EXIT_LEAKAGE``) instead of writing ``exit 4``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXITS = ("sys.exit", "exit", "quit", "os._exit", "SystemExit")
PROSE = re.compile(r"\bexit(?:s|ed|ing)?(?: with)?(?: code)? \(?\d+\b", re.IGNORECASE)


def _sources(root: Path) -> list[Path]:
    files = sorted((root / "medtorch").rglob("*.py")) + [root / "train.py"]
    return [p for p in files if p.is_file() and p.relative_to(root).as_posix() != "medtorch/errors.py"]


def _literal(expr: ast.AST | None) -> bool:
    """An int literal where a value is returned: ``2``, ``rc or 0``, ``0 if ok else 1``, ``int(x or 0)``."""
    if isinstance(expr, ast.Constant):
        return type(expr.value) is int
    if isinstance(expr, ast.BoolOp):
        return any(_literal(v) for v in expr.values)
    if isinstance(expr, ast.IfExp):
        return _literal(expr.body) or _literal(expr.orelse)
    if isinstance(expr, ast.Call) and ast.unparse(expr.func) == "int":
        return any(_literal(a) for a in expr.args)
    return False


def literal_exit_codes(path: Path, rel: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    entry = rel.startswith("medtorch/commands/") or rel in ("medtorch/cli.py", "medtorch/launch.py", "train.py")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in EXITS and node.args and _literal(node.args[0]):
            found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Call):
            found += [f"{rel}:{node.lineno}: {ast.unparse(node)}" for k in node.keywords
                      if k.arg == "exit_code" and _literal(k.value)]
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(ast.unparse(t).split(".")[-1] == "exit_code" for t in targets) and _literal(node.value):
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
        if entry and isinstance(node, ast.FunctionDef) and node.name in ("run", "main"):
            found += [f"{rel}:{r.lineno}: {ast.unparse(r)}" for r in ast.walk(node)
                      if isinstance(r, ast.Return) and _literal(r.value)]
    return sorted(set(found), key=lambda f: int(f.split(":")[1]))


def prose_exit_codes(path: Path, rel: str) -> list[str]:
    return [f"{rel}:{i}: {line.strip()}" for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if PROSE.search(line)]


def test_no_code_spells_an_exit_code_as_a_number():
    found = [f for p in _sources(ROOT) for f in literal_exit_codes(p, p.relative_to(ROOT).as_posix())]
    assert not found, "exit codes as literals (use a name from medtorch/errors.py):\n  " + "\n  ".join(found)


def test_no_docstring_comment_or_message_spells_an_exit_code_as_a_number():
    found = [f for p in _sources(ROOT) for f in prose_exit_codes(p, p.relative_to(ROOT).as_posix())]
    assert not found, "exit codes written as numbers in text (name them, e.g. EXIT_LEAKAGE):\n  " + "\n  ".join(found)


def test_the_checks_catch_what_they_are_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys\n"
        "class E(Exception):\n    exit_code = 7\n"
        "def run(args):\n    if args.x:\n        return 0 if args.ok else 1\n    return int(go() or 0)\n"
        "def other():\n    sys.exit(3)\n    raise SystemExit(2)\n"
        "def fine(argv):\n    sys.exit(main(argv[1:]))\n    return 0\n"
        '"""The bridge failed (exit 4); a difference exits 3; exit code 6; (exit code 2)."""\n'
        "# exits with code 5\n# the exit status, not a number: exit early\n"
    )
    lines = [f.split(":")[1] for f in literal_exit_codes(bad, "medtorch/commands/bad.py")]
    assert lines == ["3", "6", "7", "9", "10"]
    assert [f.split(":")[1] for f in prose_exit_codes(bad, "x.py")] == ["14", "15"]
    assert len(PROSE.findall(bad.read_text().splitlines()[13])) == 4
