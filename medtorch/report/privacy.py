"""What the report may show about the data: aggregates only, never a patient's row.

Numeric columns appear as quartiles rounded to 3 significant digits, and only where at least
20 values are behind them; minimum and maximum are never shown (each is one patient's value).
Counts of category levels, subgroups and calendar periods below ``report.min_cell`` (default
5) are suppressed ("<5"). Confusion matrices and metric tables are not data distributions and
are shown in full. The monitoring reference keeps its values for KS tests; the report shows
only how many columns and rows it holds.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from medtorch.report.blocks import Block, MarkdownText, Missing, Para, Table, load_structured

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence

MIN_QUANTILE_N = 20
DEFAULT_MIN_CELL = 5
QUARTILES = ("p25", "median", "p75")


def sig3(x: Any) -> str:
    """A number rounded to 3 significant digits (what the report shows of a data value)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{float(x):.3g}"


def min_cell(ev: "Evidence") -> int:
    return int(((ev.config.get("report") or {}).get("min_cell")) or DEFAULT_MIN_CELL)


def count(k: Any, floor: int) -> str:
    """A count of rows in a data cell, suppressed below ``floor`` (zero is no person and is shown)."""
    if k is None:
        return "n/a"
    return str(int(k)) if int(k) == 0 or int(k) >= floor else f"<{floor}"


def _json(ev: "Evidence", rel: str) -> Any:
    path = ev.root / rel
    try:
        return load_structured(path) if path.is_file() else None
    except ValueError:
        return None


def eda(ev: "Evidence", found: list[tuple[str, str | None]]) -> tuple[list[Block], set[str]]:
    """The exploratory analysis from the EDA record, under the rules above. Its summary and per-column Markdown
    are not embedded: they carry minima and maxima."""
    handled = {rel for rel, _ in found if rel.endswith((".md", ".json"))}
    rec = _json(ev, ev.rel(ev.rd.eda))
    if not isinstance(rec, dict):
        return [], handled
    floor = min_cell(ev)
    splits = rec.get("splits") or {}
    out: list[Block] = []
    classes = list(((splits.get("train") or {}).get("class_counts") or {}))
    if splits:
        out.append(Table(["split", "rows", *[f"{c} (rows)" for c in classes]],
                         [[name, count(s.get("rows"), floor), *[count((s.get("class_counts") or {}).get(c), floor)
                                                                for c in classes]]
                          for name, s in splits.items()], "Rows and classes per split (count of rows)"))
    train = splits.get("train") or {}
    miss = {c: v for c, v in (train.get("missing_share") or {}).items() if v}
    out.append(Para("No value is missing in any column of the training split." if not miss else
                    f"{len(miss)} column(s) have missing values in the training split; shares in the table below."))
    if miss:
        n = train.get("rows") or 0
        out.append(Table(["column", "missing (% of rows)", "n"], [[c, f"{100 * v:.1f}", n] for c, v in miss.items()],
                         "Missing values (training split)"))
    numeric = train.get("numeric") or {}
    n_train = int(train.get("rows") or 0)
    if numeric and n_train >= MIN_QUANTILE_N:
        out.append(Table(["column", "25th percentile", "median", "75th percentile", "n"],
                         [[c, *[sig3(q.get(k)) for k in QUARTILES], n_train] for c, q in numeric.items()],
                         "Numeric columns (training split): quartiles, 3 significant digits, raw units; "
                         "minimum and maximum are not shown", collapsed=len(numeric) > 12))
    elif numeric:
        out.append(Missing(f"Numeric summaries are not shown: the training split has {n_train} rows, fewer than "
                           f"{MIN_QUANTILE_N}."))
    cats = train.get("categories") or {}
    if cats:
        rows = [[c, v.get("levels"), _levels(v.get("top") or {}, floor)] for c, v in cats.items()]
        out.append(Table(["column", "levels", f"most frequent levels (rows; <{floor} suppressed)"], rows,
                         "Categorical columns (training split)"))
    out.extend(_representativeness(rec.get("representativeness") or {}, floor))
    ci = rec.get("class_imbalance") or {}
    if ci.get("ratio_majority_to_minority") is not None:
        out.append(Para(f"Class imbalance (train): majority/minority = {ci['ratio_majority_to_minority']:.2f}, "
                        f"minority class {ci.get('minority_class')}."))
    return out, handled


def _levels(top: dict[str, Any], floor: int) -> str:
    """Category levels with their row counts; levels below the floor are counted, not named."""
    shown = [f"{k}: {int(x)}" for k, x in top.items() if int(x) >= floor]
    rare = sum(1 for x in top.values() if 0 < int(x) < floor)
    return "; ".join(shown + ([f"{rare} level(s) with fewer than {floor} rows (not named)"] if rare else [])) or "(none)"


def _representativeness(rep: dict[str, Any], floor: int) -> list[Block]:
    out: list[Block] = []
    for col, r in rep.items():
        rows = []
        for split, levels in (r.get("splits") or {}).items():
            small = [lv for lv, v in levels.items() if 0 < int(v.get("rows") or 0) < floor]
            for level, v in levels.items():
                if level not in small:
                    rows.append([split, level, count(v.get("rows"), floor), f"{100 * float(v.get('share') or 0):.1f}"])
            if small:  # a rare level's name can identify a patient: neither name nor count is shown
                rows.append([split, f"{len(small)} level(s) with fewer than {floor} rows", f"<{floor} each", "suppressed"])
        if rows:
            out.append(Table(["split", col, "rows", "share (%)"], rows,
                             f"Representativeness by {col} (rows below {floor} suppressed)"))
        for u in r.get("under_represented") or []:
            out.append(Missing(f"Under-represented: {col} = {u.get('value')} in {u.get('split')} "
                               f"(share {100 * float(u.get('share') or 0):.1f}% against reference "
                               f"{100 * float(u.get('reference') or 0):.1f}%)."))
    return out


def monitoring_reference(ev: "Evidence") -> list[Block]:
    """The monitoring reference as a summary: it holds training values for KS tests, never shown."""
    rec = _json(ev, ev.rel(ev.rd.monitoring_reference))
    if not isinstance(rec, dict):
        return []
    cols = rec.get("columns") or rec.get("numeric") or {}
    return [Para(f"The monitoring reference ({ev.rel(ev.rd.monitoring_reference)}) holds the training distribution of "
                 f"{len(cols)} column(s) for drift tests. Its values are training rows and are not shown here; "
                 "its hash is listed below.")]


ROW_LEVEL = re.compile(r"(^|/)(local_[^/]*|predictions_[^/]*|monitoring_reference\.json|data_spec\.json)$")
_LOCAL_SECTION = re.compile(r"^(#{1,6}) Local explanations\b.*?(?=^#{1,6} |\Z)", re.M | re.S)


def row_level(rel: str) -> bool:
    """Artefacts that hold single patients' values: listed with their hash, never shown."""
    return bool(ROW_LEVEL.search(rel))


def strip_row_level(b: MarkdownText) -> MarkdownText:
    """An embedded Markdown artefact without its per-patient part (local explanations)."""
    text = _LOCAL_SECTION.sub(lambda m: f"{m.group(1)} Local explanations\n\nPer-patient explanations are not "
                                        "shown in the report (row-level data); see the run directory.\n\n", b.text)
    images = {k: v for k, v in b.images.items() if not row_level(k)}
    return replace(b, text=_REPR.sub(_plain, text), images=images)


_REPR = re.compile(r"\{'[^{}\n]*\}|\{\}")


def _plain(m: re.Match) -> str:
    """A Python dict repr inside an embedded artefact's text, as 'key = value; ...'."""
    import ast

    try:
        value = ast.literal_eval(m.group(0))
    except (ValueError, SyntaxError):
        return m.group(0).replace("{", "(").replace("}", ")").replace("'", "")
    if not isinstance(value, dict):
        return m.group(0)
    return "; ".join(f"{k} = {v}" for k, v in value.items()) if value else "(none)"


def rare_levels(ev: "Evidence") -> list[str]:
    """Category levels of the model's categorical inputs that fewer than ``report.min_cell``
    training rows have (or whose count is unknown): each could identify a patient."""
    prep = _json(ev, ev.rel(ev.rd.preprocessing)) or {}
    train = (((_json(ev, ev.rel(ev.rd.eda)) or {}).get("splits") or {}).get("train") or {}).get("categories") or {}
    floor, out = min_cell(ev), []
    for c in prep.get("categorical") or []:
        counts = (train.get(c.get("column")) or {}).get("top") or {}
        out += [str(lv) for lv in c.get("levels") or [] if int(counts.get(str(lv), 0)) < floor]
    return sorted(set(out), key=len, reverse=True)


def redact(text: str, levels: list[str], escape=None) -> str:
    """Every whole-token occurrence of a rare level replaced by '(rare level)'."""
    for lv in levels:
        token = escape(lv) if escape else lv
        text = re.sub(rf"(?<![0-9A-Za-z_]){re.escape(token)}(?![0-9A-Za-z_])", "(rare level)", text)
    return text
