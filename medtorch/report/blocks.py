"""The pieces a report is made of, and the generic way to show any artefact as pieces.

Sections produce a list of blocks; ``writers.py`` writes every block type as Markdown and
HTML. An artefact nobody wrote a renderer for is still shown when it is Markdown (as text) or
PNG (embedded); structured artefacts (JSON, CSV, JSON lines) are listed with their hash and a
link, never dumped: they may hold row-level values, and raw JSON is no table for a reader.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union


@dataclass
class Para:
    text: str


@dataclass
class Missing:
    """A statement that evidence is absent from the run, and how it would be produced."""

    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""
    collapsed: bool = False  # a long appendix: folded in the HTML report, in full in its appendix, not in the PDF
    css: str = ""  # an HTML class for the print stylesheet (e.g. "checklist": narrow columns that never wrap)


@dataclass
class Image:
    path: str  # relative to the run directory (Markdown links to it; HTML embeds the bytes)
    data: bytes
    caption: str
    generated: bool = False  # drawn by the report itself (written beside it), not an artefact of the run


@dataclass
class MarkdownText:
    """Markdown written by another part of medtorch (e.g. the EDA summary), shown as it is."""

    text: str
    source: str
    images: dict[str, bytes] = field(default_factory=dict)  # rebased image path -> bytes, for embedding


@dataclass
class Link:
    """A table cell that links to a section of the report (``href`` is ``#anchor``)."""

    text: str
    href: str


@dataclass
class Sub:
    """A sub-heading inside a section."""

    text: str


@dataclass
class Files:
    """The artefacts a section drew on, with their recorded hashes (or a warning)."""

    rows: list[tuple[str, str]] = field(default_factory=list)  # (path, status)


Block = Union[Para, Missing, Table, Image, MarkdownText, Sub, Files]


def fmt(v: Any) -> str:
    """One cell: numbers to 4 significant digits, None as 'n/a', containers as 'key = value' text."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
        return ", ".join(fmt(x) for x in v) if v else "(none)"
    if isinstance(v, dict):  # a reader sees "key = value; ...", never a JSON or Python repr
        text = "; ".join(f"{k} = {fmt(x)}" for k, x in v.items()) if v else "(none)"
        return text if len(text) <= 160 else text[:157] + "..."
    if isinstance(v, list):
        text = "; ".join(fmt(x) for x in v)
        return text if len(text) <= 160 else text[:157] + "..."
    return str(v)


def select(obj: Any, key: str | None) -> Any:
    """``obj`` at a dotted key path (``"ci.mcc"``); None where any step is absent."""
    for part in (key.split(".") if key else []):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


_MD_TARGET = re.compile(r"(!?)(\[[^\]]*\]\()([^)\s]+)(\))")


def _markdown_artefact(root: Path, rel: str) -> MarkdownText:
    """Read a Markdown artefact; rebase its relative links and images onto the run directory
    (the report sits at its root) and keep the images' bytes so HTML can embed them."""
    base = posixpath.dirname(rel)
    images: dict[str, bytes] = {}

    def rebase(m: re.Match) -> str:
        bang, head, target, tail = m.groups()
        if re.match(r"^([a-z]+:|#|/)", target):
            return m.group(0)
        new = posixpath.normpath(posixpath.join(base, target))
        if bang and (root / new).is_file():
            images[new] = (root / new).read_bytes()
        return f"{bang}{head}{new}{tail}"

    text = _MD_TARGET.sub(rebase, (root / rel).read_text(encoding="utf-8"))
    return MarkdownText(text, rel, images)


def load_structured(path: Path) -> Any:
    """A JSON or YAML artefact as Python objects (raises ValueError when it does not parse)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:  # libyaml's parser where PyYAML has it (the same safe constructor; about 7x faster on a run's config)
            return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as e:
            raise ValueError(str(e)) from None
    return json.loads(text)


def file_blocks(root: Path, rel: str, key: str | None = None) -> list[Block]:
    """Show one artefact by its kind. ``key`` picks part of a JSON file."""
    path = root / rel
    suffix = path.suffix.lower()
    label = f"{rel}#{key}" if key else rel
    if suffix == ".png":
        return [Image(rel, path.read_bytes(), label)]
    if suffix == ".md":
        return [_markdown_artefact(root, rel)]
    # Structured artefacts without a dedicated renderer are not dumped: they may hold row-level
    # values (monitoring reference, data spec ranges, predictions) and raw JSON is no table for a
    # reader. The section's evidence list names each with its hash and a link.
    return []
