"""The TRIPOD+AI checklist (Collins et al., BMJ 2024;385:e078378): 27 items with their
sub-items for reporting a prediction model built with regression or machine learning.

Each item is filled from the run's evidence where the run can know it; otherwise from the
author's text in the config (``card.tripod.<item>``, e.g. ``card.tripod.17: "Approved by ..."``),
or marked "to be completed by the author". The item wording below is a short paraphrase; the
guideline's own text is authoritative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from medtorch.report.blocks import Block, Para, Table, load_structured
from medtorch.report.story import read_story

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence

Filler = Callable[["Evidence"], "str | None"]


def _j(ev: "Evidence", rel: str) -> Any:
    try:
        return load_structured(ev.root / rel) if (ev.root / rel).is_file() else None
    except ValueError:
        return None


def _parts(ev: "Evidence") -> dict[str, Any]:
    return (_j(ev, ev.rel(ev.rd.split)) or {}).get("parts") or {}


def _data(ev):
    d = ev.manifest.get("data") or {}
    desc = (ev.config.get("data") or {}).get("description")
    return f"{d.get('name') or d.get('path')}, {d.get('rows')} rows" + (f": {desc}" if desc else "") if d else None


def _dates(ev):
    cal = (_j(ev, ev.rel(ev.rd.eda)) or {}).get("calendar")
    if not cal:
        return None
    periods = sorted({p for s in cal.values() for p in s})
    return f"calendar periods {periods[0]} to {periods[-1]} (time column {(ev.config.get('data') or {}).get('time_column')})"


def _prep(ev):
    p = _j(ev, ev.rel(ev.rd.preprocessing)) or {}
    return (f"median imputation and standardisation of {len(p.get('numeric', []))} numeric, most-frequent imputation and "
            f"one-hot encoding of {len(p.get('categorical', []))} categorical columns, fitted on the training split only"
            if p else None)


def _outcome(ev):
    m = _j(ev, ev.rel(ev.rd.model_spec)) or {}
    target = (ev.config.get("data") or {}).get("target")
    return f"target {target or 'as defined by the data source'}; classes {', '.join(map(str, m.get('classes') or []))}"


def _predictors(ev):
    m = _j(ev, ev.rel(ev.rd.model_spec)) or {}
    return f"{m.get('n_features')} model inputs after preprocessing (listed in the data and lineage section)" if m else None


def _sample(ev):
    parts = _parts(ev)
    return "; ".join(f"{k}: {v.get('rows')} rows ({', '.join(f'{c} {n}' for c, n in v.get('class_counts', {}).items())})"
                     for k, v in parts.items()) or None


def _missing(ev):
    miss = {c: v for c, v in (((_j(ev, ev.rel(ev.rd.eda)) or {}).get("splits") or {}).get("train") or {}).get("missing_share", {}).items() if v}
    base = f"{len(miss)} column(s) with missing values in training" if miss else "no missing values in training"
    return base + "; imputation fitted on the training split (median / most frequent)"


def _split(ev):
    s = _j(ev, ev.rel(ev.rd.split)) or {}
    return (f"split {s.get('strategy')} (seed {s.get('seed')}) before any fitting; validation rows select the epoch; "
            f"test rows sealed by training" if s else None)


def _model(ev):
    c = ev.config
    m, o, es = c.get("model") or {}, c.get("optim") or {}, c.get("early_stopping") or {}
    return (f"{m.get('name')} network, AdamW (lr {o.get('lr')}, weight decay {o.get('weight_decay')}), dropout "
            f"{m.get('dropout')}, early stopping {'on' if es.get('enabled') else 'off'}; seed {c.get('seed')}")


def _measures(ev):
    ci = (_j(ev, ev.rel(ev.rd.assessment("val"))) or {}).get("ci") or {}
    return (f"MCC, balanced accuracy, AUROC ({ci.get('method')}, {ci.get('resamples')} resamples), per-class sensitivity "
            f"and specificity ({ci.get('proportion_method')}), calibration (ECE, reliability diagram)" if ci else None)


def _hetero(ev):
    cols = (ev.config.get("data") or {}).get("subgroup_columns") or []
    return f"performance by {', '.join(cols)} (subgroup section)" if cols else None


def _imbalance(ev):
    ci = (_j(ev, ev.rel(ev.rd.eda)) or {}).get("class_imbalance") or {}
    mit = ci.get("mitigation") or {}
    return (f"majority/minority {ci.get('ratio_majority_to_minority'):.2f}; class weights {mit.get('class_weights')}, "
            f"oversampling {mit.get('oversample')}" if ci.get("ratio_majority_to_minority") else None)


def _output(ev):
    return "a probability per class (softmax); the predicted class is the most probable one"


def _train_eval(ev):
    story = read_story(ev)
    return (f"validation rows chose the model (optimistic); {len(story.looks)} governed look(s) at the sealed test set"
            + ("; only the first is a hold-out estimate" if len(story.looks) > 1 else ""))


def _code(ev):
    git = ev.manifest.get("git") or {}
    return f"medtorch {ev.manifest.get('medtorch_version')}, git commit {git.get('commit')}" if git.get("commit") else None


def _spec(ev):
    m = _j(ev, ev.rel(ev.rd.model_spec)) or {}
    return f"{(m.get('model') or {}).get('name')} with {m.get('n_features')} inputs; weights {ev.rd.model_weights.name} (hash in the audit trail)" if m else None


def _performance(ev):
    story = read_story(ev)
    where = f"test look {story.looks[-1].number}" if story.looks else "validation rows"
    return f"metrics with 95% CIs, method and n on the {where} (summary section)"


def _limits(ev):
    lim = (ev.config.get("card") or {}).get("limitations") or []
    return "; ".join(lim) or None


def _use(ev):
    return (ev.config.get("card") or {}).get("intended_use") or None


# (item, topic, what the guideline asks, filler or None)
ITEMS: tuple[tuple[str, str, str, Filler | None], ...] = (
    ("1", "Title", "development or evaluation of a prediction model, target population and outcome", None),
    ("2", "Abstract", "structured summary (TRIPOD+AI for Abstracts)", None),
    ("3a", "Background", "healthcare context and rationale for the model", None),
    ("3b", "Background", "target population and intended purpose in the care pathway, intended users", _use),
    ("3c", "Background", "known health inequalities between groups", None),
    ("4", "Objectives", "study objectives: development, evaluation or both", None),
    ("5a", "Data", "sources of data and why chosen", _data),
    ("5b", "Data", "dates of data collection", _dates),
    ("6a", "Participants", "study setting (primary care, hospital, ...), centres", None),
    ("6b", "Participants", "eligibility criteria", None),
    ("6c", "Participants", "treatments received, if relevant", None),
    ("7", "Data preparation", "preprocessing and quality checks, consistent across groups", _prep),
    ("8a", "Outcome", "outcome definition, time horizon, how assessed", _outcome),
    ("8b", "Outcome", "qualifications and demographics of outcome assessors", None),
    ("8c", "Outcome", "blinding of outcome assessment", None),
    ("9a", "Predictors", "choice of initial predictors and pre-selection", _predictors),
    ("9b", "Predictors", "definition and measurement of predictors", None),
    ("9c", "Predictors", "qualifications of predictor assessors", None),
    ("10", "Sample size", "how the study size was arrived at; events per class", _sample),
    ("11", "Missing data", "how missing data were handled", _missing),
    ("12a", "Analytical methods", "how the data were used (development, tuning, evaluation)", _split),
    ("12b", "Analytical methods", "handling of predictors (functional form, rescaling, transformation)", _prep),
    ("12c", "Analytical methods", "model type, building, hyperparameter tuning, internal validation", _model),
    ("12d", "Analytical methods", "heterogeneity across clusters (centres, subgroups)", _hetero),
    ("12e", "Analytical methods", "performance measures with rationale, including calibration", _measures),
    ("12f", "Analytical methods", "model updating or recalibration", None),
    ("12g", "Analytical methods", "for evaluation: how predictions were calculated", _output),
    ("13", "Class imbalance", "methods for class imbalance and recalibration", _imbalance),
    ("14", "Fairness", "approaches to address model fairness", _hetero),
    ("15", "Model output", "output of the model and thresholds for classification", _output),
    ("16", "Training versus evaluation", "differences between development and evaluation data", _train_eval),
    ("17", "Ethical approval", "ethics committee and consent", None),
    ("18a", "Open science", "funding", None),
    ("18b", "Open science", "conflicts of interest", None),
    ("18c", "Open science", "protocol", None),
    ("18d", "Open science", "registration", None),
    ("18e", "Open science", "data sharing", None),
    ("18f", "Open science", "code sharing", _code),
    ("19", "Patient and public involvement", "involvement of patients and the public", None),
    ("20a", "Participants", "flow of participants, with numbers with and without the outcome", _sample),
    ("20b", "Participants", "characteristics of the data (exploratory analysis section)", _sample),
    ("20c", "Participants", "comparison of development and evaluation data distributions", _split),
    ("21", "Model development", "participants and outcome events in each analysis", _sample),
    ("22", "Model specification", "full model details so that predictions can be made", _spec),
    ("23a", "Model performance", "performance estimates with confidence intervals", _performance),
    ("23b", "Model performance", "results of heterogeneity across subgroups", _hetero),
    ("24", "Model updating", "results of any model updating", None),
    ("25", "Interpretation", "overall interpretation, fairness in light of objectives", None),
    ("26", "Limitations", "limitations (non-representative data, sample size, overfitting, missing data)", _limits),
    ("27a", "Usability in context", "how poor quality or unavailable input data are handled in use", None),
    ("27b", "Usability in context", "user interaction and expertise needed", None),
    ("27c", "Usability in context", "future research, generalisability", None),
)


def tripod(ev: "Evidence", found: list[tuple[str, str | None]]) -> tuple[list[Block], set[str]]:
    authored = {str(k): str(v) for k, v in (((ev.config.get("card") or {}).get("tripod")) or {}).items() if v}
    rows, counts = [], {"run": 0, "author": 0, "open": 0}
    for item, topic, asks, fill in ITEMS:
        value = None
        if fill is not None:
            try:
                value = fill(ev)
            except (KeyError, TypeError, ValueError, AttributeError):
                value = None
        if item in authored:
            text, source = authored[item] + (f" (run: {value})" if value else ""), "author"
            counts["author"] += 1
        elif value:
            text, source = value, "run"
            counts["run"] += 1
        else:
            text, source = f"to be completed by the author (card.tripod.{item})", "open"
            counts["open"] += 1
        rows.append([item, topic, asks, text, source])
    items = len({i.rstrip("abcdefg") for i, *_ in ITEMS})
    # printed in full (the PDF too): an assessor files the checklist with the report
    return [Para(f"TRIPOD+AI (Collins et al., BMJ 2024): {items} items, {len(ITEMS)} rows with sub-items. "
                 f"{counts['run']} filled from this run's evidence (source: run), {counts['author']} from the author's "
                 f"text in the config (source: author, card.tripod), {counts['open']} to be completed by the author "
                 "(source: open). The EMA traceability table follows this section."),
            Table(["item", "topic", "the guideline asks for", "in this report", "source"], rows, "TRIPOD+AI checklist",
                  css="checklist")], set()
