"""Find artefact file names spelt as string literals in medtorch's modules (used by test_artefacts.py).

A literal is any string constant or f-string in the code (docstrings are prose, not paths, and are
skipped); an f-string is read with ``{}`` for each interpolated value, so ``f"predictions_{s}.csv"``
is caught. The names looked for are the registry's file names: ``predictions_{split}.csv`` becomes
a pattern ``predictions_<anything>.csv``. A name that is nothing but placeholders and an extension
(``{name}.png``) is too generic to look for.

``names_in_text`` reads any text line by line (comments, docstrings, YAML, shell) with the same
patterns; ``folder_literals`` finds the run directory's declared folders spelt as path components.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from medtorch.artefacts import ARTEFACTS

_PART = r"[\w.*{}<>\[\]-]+"  # what stands for a placeholder: a value, a glob, an f-string's {}, or <split>


def _extensions() -> str:
    """What stands for a placeholder extension (``report.{ext}``): an extension some declared file has, a glob
    or an f-string's {}; so ``report.py`` (a module) or ``report.status`` (an attribute) is not a report file."""
    fixed = {a.path.rsplit(".", 1)[-1] for a in ARTEFACTS if "." in a.path.rsplit("/", 1)[-1]}
    exts = sorted(e for e in fixed if e.isalnum()) + ["json", "md"]  # ext: json | md where it is a placeholder
    return r"(?:" + "|".join(sorted(set(exts), key=len, reverse=True)) + r"|\*|\{[^}]*\})"


def name_patterns() -> dict[str, re.Pattern[str]]:
    out = {}
    ext = _extensions()
    for a in ARTEFACTS:
        base = a.path.rsplit("/", 1)[-1]
        pieces = re.split(r"\{[^}]*\}", base)
        stem = "".join(pieces).rsplit(".", 1)[0] if "." in "".join(pieces) else "".join(pieces)
        if sum(c.isalnum() for c in stem) < 2:
            continue
        body = _PART.join(re.escape(p) for p in pieces)
        if base.endswith(".{ext}"):  # the last placeholder is the extension: only a file's extension fills it
            body = _PART.join(re.escape(p) for p in pieces[:-1]) + ext
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


def names_in_text(text: str) -> list[tuple[int, str, str]]:
    """(line, declared name, the line) for each artefact file name anywhere in ``text``: code, comments,
    docstrings, YAML, TOML or shell alike (used by test_artefact_names_in_prose.py)."""
    patterns = name_patterns()
    return [(i, name, line.strip()) for i, line in enumerate(text.splitlines(), 1)
            for name, pattern in patterns.items() if pattern.search(line)]


def declared_folders() -> frozenset[str]:
    """The fixed folder names of a run directory (and of a cross-validation root) the registry declares."""
    return frozenset(part for a in ARTEFACTS for part in a.path.split("/")[:-1] if "{" not in part)


_PATH_CALLS = {"Path", "PurePath", "PurePosixPath", "joinpath"}


def _path_components(tree: ast.AST) -> list[ast.expr]:
    """The expressions a module uses as path components: both sides of ``/``, the arguments of ``Path(...)``,
    ``.joinpath(...)`` and ``os.path.join(...)``."""
    out: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            out += [node.left, node.right]
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            os_join = name == "join" and isinstance(f, ast.Attribute) and isinstance(f.value, (ast.Name, ast.Attribute)) \
                and (getattr(f.value, "id", None) or getattr(f.value, "attr", None)) == "path"
            if name in _PATH_CALLS or os_join:
                out += list(node.args)
    return out


def folder_literals(source: str) -> list[tuple[int, str, str]]:
    """(line, declared folder, literal) for each string literal used as a path component (``x / "plots"``,
    ``Path(root, "bridge/reference.json")``) that spells a folder the registry declares. A folder word in a
    message, a dict key or a docstring is not a path and is not reported."""
    folders = declared_folders()
    hits = []
    for node in _path_components(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        hits += [(node.lineno, part, text) for part in text.split("/") if part in folders]
    return sorted(hits)
