"""Find artefact file names spelt as string literals in medtorch's modules (used by test_artefacts.py).

A literal is any string constant or f-string in the code (docstrings are prose, not paths, and are
skipped); an f-string is read with ``{}`` for each interpolated value, so ``f"predictions_{s}.csv"``
is caught. The names looked for are the registry's file names: ``predictions_{split}.csv`` becomes
a pattern ``predictions_<anything>.csv``. A name that is nothing but placeholders and an extension
(``{name}.png``) is too generic to look for.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from medtorch.artefacts import ARTEFACTS

_PART = r"[\w.*{}\[\]-]+"  # what stands for a placeholder: a value, a glob, or an f-string's {}


def name_patterns() -> dict[str, re.Pattern[str]]:
    out = {}
    for a in ARTEFACTS:
        base = a.path.rsplit("/", 1)[-1]
        pieces = re.split(r"\{[^}]*\}", base)
        stem = "".join(pieces).rsplit(".", 1)[0] if "." in "".join(pieces) else "".join(pieces)
        if sum(c.isalnum() for c in stem) < 2:
            continue
        body = _PART.join(re.escape(p) for p in pieces)
        out[base] = re.compile(rf"(?<![\w.-]){body}(?![\w-])")
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                ids.add(id(first.value))
    return ids


def literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal of a module, f-strings rendered with ``{}`` for their values."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    inside = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            out.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip | inside:
            out.append((node.lineno, node.value))
    return out


def artefact_literals(path: Path) -> list[tuple[int, str, str]]:
    """(line, declared name, literal) for each literal in ``path`` that spells an artefact's file name."""
    patterns = name_patterns()
    hits = []
    for line, text in literals(path.read_text(encoding="utf-8")):
        for name, pattern in patterns.items():
            if pattern.search(text):
                hits.append((line, name, text))
    return hits
