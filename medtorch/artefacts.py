"""Every artefact of a run directory, declared once.

Each ``Artefact`` names its path in the run (a pattern with ``{placeholders}`` where it is
parameterised), the step or verb that produces it, how it changes over the run's life, which
runs must hold it, its type where several modules read it, its report section and a line of
text. ``RunDir`` builds its paths from this table, the README's run-directory table is printed
from it (``python -m medtorch.artefacts --readme``), and the report's sections and traceability
table are tested against it, so none of them can name a file that nothing writes.

Kinds (how a file changes after it is first written):

- ``write-once``: written by one step and never again (the model, the split, the data spec...).
- ``versioned``: each act writes a new file and an event; a rewrite under the same name keeps the
  previous version under ``versions/`` (reports, bridge reports, test evaluations).
- ``appended``: only ever grows (the event log, the monitoring log).
- ``updated``: rewritten in place; the event log holds its history (the manifest, ``last.ckpt``).
- ``lock``: an empty file that serialises writers; not evidence, never hashed.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from pathlib import Path

WRITE_ONCE, VERSIONED, APPENDED, UPDATED, LOCK = "write-once", "versioned", "appended", "updated", "lock"
KINDS = (WRITE_ONCE, VERSIONED, APPENDED, UPDATED, LOCK)
CLASSIFICATION, SURVIVAL = "classification", "survival"
BOTH = frozenset({CLASSIFICATION, SURVIVAL})
CLS, SURV, OPTIONAL = frozenset({CLASSIFICATION}), frozenset({SURVIVAL}), frozenset()
RUN, CV_ROOT = "run", "cv root"  # where a path is relative to: a run directory, or a cross-validation root


@dataclass(frozen=True)
class Artefact:
    key: str  # the name code uses: ``artefact("predictions")``, ``RunDir.predictions(split)``
    path: str  # relative to its directory; ``{name}`` placeholders are filled by ``path_in``
    producer: str  # the step of train.py or the medtorch verb that writes it
    kind: str  # one of KINDS
    required: frozenset[str]  # the tasks whose complete run with the default config holds it (empty: optional)
    section: str  # the report section (anchor) that shows it; "" if none
    text: str  # one line: what it holds
    record: str = ""  # "module:Class" of its dataclass (with a strict ``from_dict``), where it has one
    scope: str = RUN

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.path) if f)

    @property
    def name(self) -> str:
        """The file name (last path component); only for a path without placeholders in it."""
        return Path(self.relative()).name

    def file_name(self, **values: object) -> str:
        """The last path component, its placeholders filled: ``report.{ext}`` with ext="md" is ``report.md``."""
        return self.path.rsplit("/", 1)[-1].format(**values)

    def tail(self, parts: int, **values: object) -> str:
        """The last ``parts`` path components, their placeholders filled: a monitoring plot's ``tail(2, plot="psi")``
        is ``plots/psi.png``, its path inside the folder of one monitoring report."""
        return "/".join(self.path.split("/")[-parts:]).format(**values)

    def relative(self, **values: object) -> str:
        """The path relative to its directory, placeholders filled (all must be given)."""
        missing = [f for f in self.fields if f.split(":")[0] not in values]
        if missing:
            raise KeyError(f"artefact '{self.key}' ({self.path}) needs a value for {missing}")
        return self.path.format(**values)

    def path_in(self, root: str | Path, **values: object) -> Path:
        return Path(root) / self.relative(**values)

    @property
    def glob(self) -> str:
        """A glob that matches every instance: each placeholder becomes ``*``."""
        return self.glob_of()

    def glob_of(self, **values: object) -> str:
        """A glob of the instances with the given placeholders fixed (the others become ``*``)."""
        return re.sub(r"\{([^}:]*)[^}]*\}", lambda m: str(values[m[1]]) if m[1] in values else "*", self.path)

    @property
    def regex(self) -> re.Pattern[str]:
        """Matches a relative path that is an instance of this artefact."""
        parts = re.split(r"\{[^}]*\}", self.path)
        return re.compile("".join(re.escape(p) + ("[^/]+" if i < len(parts) - 1 else "") for i, p in enumerate(parts)) + "$")


def _a(key, path, producer, kind, required, section, text, record="", scope=RUN) -> Artefact:
    return Artefact(key, path, producer, kind, required, section, text, record, scope)


# Order matters where patterns overlap: a relative path is the first artefact whose pattern matches it.
ARTEFACTS: tuple[Artefact, ...] = (
    # configuration, provenance and the audit trail
    _a("config", "config.yaml", "train.py (launch)", WRITE_ONCE, BOTH, "training",
       "the composed, resolved config (Hydra's own copy is in `.hydra/`)"),
    _a("hydra_file", ".hydra/{name}.yaml", "Hydra (launch)", WRITE_ONCE, BOTH, "audit",
       "Hydra's own record of the composition: config, Hydra settings, overrides"),
    _a("manifest", "manifest.json", "every step of train.py", UPDATED, BOTH, "summary",
       "run id, status, UTC start/end, command, git commit and dirty flag, hashes of the config, raw data and each "
       "split, package versions, device, the stack fingerprint (`stack`), and the sha256 of every artefact",
       "medtorch.manifest:Manifest"),
    _a("events", "events.jsonl", "every step and verb", APPENDED, BOTH, "audit",
       "append-only event log; each line has UTC time, user, host, action, input/output hashes and the hash of the "
       "line before it"),
    _a("events_head", "events.head", "every step and verb", UPDATED, BOTH, "audit",
       "the event log's line count and last hash, so cutting lines off its end is detected"),
    _a("events_lock", "events.lock", "every step and verb", LOCK, BOTH, "",
       "the (empty) lock file that serialises appends to the event log"),
    _a("test_evaluations_lock", "test_evaluations.lock", "evaluate", LOCK, OPTIONAL, "",
       "the (empty) lock file that serialises governed test looks on this run"),
    _a("job_log", "train.log", "Hydra (launch)", APPENDED, OPTIONAL, "",
       "Hydra's job log of the launch (Python logging output)"),
    _a("not_evidence", "NOT_EVIDENCE.txt", "train.py (smoke run)", WRITE_ONCE, OPTIONAL, "summary",
       "present only in a smoke run: says why the directory is not evidence"),
    # data governance
    _a("split", "split.json", "split", WRITE_ONCE, BOTH, "split",
       "strategy, seed, fractions, rows and class counts per split, hash of each split's row ids",
       "medtorch.records:SplitRecord"),
    _a("preprocessing", "preprocessing.json", "preprocess", WRITE_ONCE, BOTH, "data",
       "the fitted state: imputation values, category levels and unseen policy, means and scales, feature order, "
       "and the rows it was fitted on"),
    _a("lineage", "lineage.json", "lineage", WRITE_ONCE, BOTH, "data",
       "every step from the source to the model inputs, with row counts and hashes"),
    _a("lineage_summary", "lineage.md", "lineage", WRITE_ONCE, BOTH, "data", "the lineage in words"),
    _a("leakage", "leakage.json", "leakage checks", WRITE_ONCE, BOTH, "split",
       "the leakage checks' results: overlaps, near-duplicates, identifiers, single-column probes"),
    _a("eda", "eda.json", "EDA", WRITE_ONCE, CLS, "eda",
       "class balance, representativeness and label rates by subgroup and calendar period, per split"),
    _a("eda_summary", "eda.md", "EDA", WRITE_ONCE, CLS, "eda", "the exploratory analysis in words"),
    _a("eda_plot", "plots/eda_{name}.png", "EDA", WRITE_ONCE, OPTIONAL, "eda", "EDA plots (`eda.plots=true`)"),
    _a("data_spec", "data_spec.json", "data specification", WRITE_ONCE, BOTH, "monitoring",
       "the data specification every later input is checked against", "medtorch.deploy.spec:DataSpec"),
    _a("monitoring_reference", "monitoring_reference.json", "monitoring reference", WRITE_ONCE, CLS, "monitoring",
       "training-split distributions that monitoring compares new data with"),
    # the model
    _a("checkpoint_best", "checkpoints/best.ckpt", "train", WRITE_ONCE, BOTH, "training",
       "the best epoch's Lightning checkpoint"),
    _a("checkpoint_last", "checkpoints/last.ckpt", "train", UPDATED, BOTH, "training",
       "the last epoch's checkpoint, rewritten every epoch (each write recorded with its sha256 in the event log)"),
    _a("checkpoint", "checkpoints/{name}.ckpt", "train", WRITE_ONCE, OPTIONAL, "training",
       "other checkpoints a configured ModelCheckpoint keeps"),
    _a("training_log", "logs/metrics.csv", "train", APPENDED, OPTIONAL, "training",
       "Lightning's CSV log of the epoch metrics (`logger=csv`, the default; `tensorboard/` with `logger=tensorboard`)"),
    _a("model_weights", "model.pt", "train", WRITE_ONCE, BOTH, "training",
       "best-epoch weights, a plain state dict (`torch.load(path, weights_only=True)`)"),
    _a("model_spec", "model.json", "train", WRITE_ONCE, BOTH, "model-card",
       "the spec to rebuild the network; for `model=logistic`, `selected_by` holds the C chosen on validation",
       "medtorch.records:ModelSpec"),
    # evaluation on validation, and the governed test looks
    _a("metrics", "metrics.json", "validate", WRITE_ONCE, BOTH, "metrics",
       "validation metrics (MCC, accuracy, balanced accuracy, AUROC, K x K confusion matrix, per class) and the "
       "per-epoch history", "medtorch.records:MetricsRecord"),
    _a("predictions", "predictions_{split}.csv", "validate", WRITE_ONCE, BOTH, "metrics",
       "per row: id, true and predicted class, class probabilities (survival: risk score and S(t) per horizon)"),
    _a("confusion_plot", "plots/confusion_{split}_{kind}.png", "validate", WRITE_ONCE, CLS, "metrics",
       "confusion matrices, counts and row-normalised, class names on both axes"),
    _a("training_history_plot", "plots/training_history.png", "report", VERSIONED, OPTIONAL, "training",
       "the per-epoch history, drawn for the report"),
    _a("reliability_plot", "plots/reliability_{split}.png", "assess", WRITE_ONCE, CLS, "metrics",
       "reliability diagram: quantile bins, each point with its n and a 95% Wilson interval"),
    _a("forest_plot", "plots/forest_{name}_{split}.png", "assess", WRITE_ONCE, OPTIONAL, "subgroups",
       "MCC with its interval by subgroup (`forest_<column>`) or calendar period (`forest_period`)"),
    _a("assessment", "assessment_{split}.json", "assess", WRITE_ONCE, CLS, "metrics",
       "bootstrap confidence intervals, per-class results, calibration, subgroup and calendar-period analyses"),
    _a("acceptance", "acceptance.json", "acceptance criteria", WRITE_ONCE, BOTH, "acceptance",
       "the acceptance criteria, frozen before any evaluation"),
    _a("acceptance_amendment", "acceptance_amendments/{name}.json", "acceptance amend", VERSIONED, OPTIONAL,
       "acceptance", "each amendment of the criteria, with its reason and whether it came after a test look"),
    _a("sealed_test", "sealed_test.json", "split", WRITE_ONCE, BOTH, "ledger",
       "the sealed test set: its row hash and that training never evaluated it"),
    _a("test_evaluation", "test_evaluations/{n:03d}/evaluation.json", "evaluate", VERSIONED, OPTIONAL, "metrics",
       "one governed look at a test set: metrics with intervals, the criteria's verdicts, its role and registry entry"),
    _a("test_evaluation_predictions", "test_evaluations/{n:03d}/predictions.csv", "evaluate", VERSIONED, OPTIONAL,
       "metrics", "the predictions of that look"),
    _a("test_evaluation_plot", "test_evaluations/{n:03d}/{name}.png", "evaluate", VERSIONED, OPTIONAL, "metrics",
       "the plots of that look"),
    _a("test_roles", "test_roles.json", "evaluate", UPDATED, OPTIONAL, "ledger",
       "the role of each test set the run looked at (a role once demoted stays demoted)"),
    # bridge re-evaluation across stacks
    _a("bridge_reference", "bridge/reference.json", "bridge reference", WRITE_ONCE, CLS, "stack",
       "reference predictions on the bridge set, made on the training stack"),
    _a("bridge_rows", "bridge/reference_rows.parquet", "bridge reference", WRITE_ONCE, CLS, "stack",
       "the bridge set's rows"),
    _a("bridge_report", "bridge/report_{stack}.{ext}", "bridge", VERSIONED, OPTIONAL, "stack",
       "the bridge re-evaluation on one stack, named by its fingerprint hash (JSON and Markdown)"),
    _a("bridge_added", "bridge/reference_{name}.{ext}", "evaluate", WRITE_ONCE, OPTIONAL, "stack",
       "rows added to the bridge set after training (a test look's rows)"),
    # explanations
    _a("explanation", "explain/explanation.json", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "attributions, attention, sanity checks and the comparison with the transparent models"),
    _a("explanation_summary", "explain/summary.md", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "the explanation in words"),
    _a("explanation_importance", "explain/global_importance.csv", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "mean and SD of the absolute attribution of each input, per method and class"),
    _a("explanation_attributions", "explain/attributions.csv", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "every attribution: method, row, class, input"),
    _a("explanation_convergence", "explain/ig_convergence_delta.csv", "explain", WRITE_ONCE, OPTIONAL,
       "explanations", "Integrated Gradients' convergence delta per row and class"),
    _a("explanation_local", "explain/local_explanations.csv", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "the rows explained one by one, and why each was chosen"),
    _a("explanation_attention", "explain/attention.csv", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "class-token attention and rollout per input, per layer and head (attention models)"),
    _a("explanation_attention_rows", "explain/attention_rows.csv", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "attention and rollout per row and input (attention models)"),
    _a("explanation_odds_ratios", "explain/odds_ratios.csv", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "odds ratios of the transparent logistic model"),
    _a("explanation_plot", "explain/plots/{name}.png", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "global, local, agreement and attention plots"),
    _a("survival_later_explanation", "explanations/{name}/risk_attributions.json", "explain (verb)", VERSIONED,
       OPTIONAL, "explanations", "attributions of the risk score of a survival run, made later by `medtorch explain`"),
    _a("survival_later_explanation_plot", "explanations/{name}/risk_importance.png", "explain (verb)", VERSIONED,
       OPTIONAL, "explanations", "the mean absolute attribution of each input to the risk score (survival)"),
    _a("later_explanation", "explanations/{name}/{file}", "explain (verb)", VERSIONED, OPTIONAL, "explanations",
       "an explanation made later by `medtorch explain`, in the same layout as `explain/`"),
    # deployment
    _a("monitoring_log", "monitoring/log.jsonl", "monitor", APPENDED, OPTIONAL, "monitoring",
       "one JSON line per monitoring run: when, what input, what it found"),
    _a("monitoring_report", "monitoring/{name}/report.{ext}", "monitor", VERSIONED, OPTIONAL, "monitoring",
       "one monitoring report (JSON and Markdown)"),
    _a("monitoring_plot", "monitoring/{name}/plots/{plot}.png", "monitor", VERSIONED, OPTIONAL, "monitoring",
       "plots of one monitoring report: `psi.png` (drift of each input), `predicted_class.png`, and "
       "`mcc_by_window.png` when labels are given"),
    # the evidence report
    _a("report_md", "report.md", "report", VERSIONED, BOTH, "", "the evidence report, Markdown"),
    _a("report_html", "report.html", "report", VERSIONED, BOTH, "", "the evidence report, self-contained HTML"),
    _a("report_pdf", "report.pdf", "report --pdf", VERSIONED, OPTIONAL, "", "the evidence report as PDF"),
    _a("report_appendix", "report_appendix.html", "report", VERSIONED, CLS, "",
       "the report's long tables (event log, recorded hashes, per-column EDA) in full; folded in report.html"),
    _a("kept_version", "versions/{path}@{sha}", "any versioned write", VERSIONED, OPTIONAL, "audit",
       "earlier versions of versioned artefacts, `versions/<path>@<sha256 prefix>`, each verified against the hash "
       "recorded for it"),
    # task=survival
    _a("survival_baseline_hazard", "survival/baseline_hazard.json", "validate", WRITE_ONCE, SURV, "metrics",
       "the Breslow baseline hazard, fitted on the training split"),
    _a("survival_censoring", "survival/censoring.json", "validate", WRITE_ONCE, SURV, "metrics",
       "the training split's censoring distribution (fixed before any test look)"),
    _a("survival_cox_baseline", "survival/cox_baseline.json", "Cox baseline", WRITE_ONCE, OPTIONAL, "metrics",
       "the Cox proportional-hazards baseline (`survival.cox_baseline=true`)"),
    _a("survival_eda", "survival/eda.json", "EDA", WRITE_ONCE, SURV, "eda",
       "events, censoring and follow-up per split and subgroup"),
    _a("survival_eda_summary", "survival/eda.md", "EDA", WRITE_ONCE, SURV, "eda", "the survival EDA in words"),
    _a("survival_explanation", "survival/explain.json", "explain", WRITE_ONCE, OPTIONAL, "explanations",
       "Captum attributions of the risk score (mean absolute and signed, per input column)"),
    _a("survival_monitoring_reference", "survival/monitoring_reference.json", "monitoring reference", WRITE_ONCE,
       SURV, "monitoring", "training distributions of the inputs and the risk score"),
    _a("survival_bridge_reference", "survival/bridge_reference.json", "bridge reference", WRITE_ONCE, SURV, "stack",
       "reference risk scores on the bridge set"),
    _a("survival_bridge_rows", "survival/bridge_rows.csv", "bridge reference", WRITE_ONCE, SURV, "stack",
       "the bridge set's rows"),
    _a("survival_bridge_report", "survival/bridge_{stack}.json", "bridge", VERSIONED, OPTIONAL, "stack",
       "the bridge re-evaluation of a survival run on one stack"),
    _a("survival_km_splits_plot", "survival/km_splits.png", "EDA", WRITE_ONCE, OPTIONAL, "eda",
       "Kaplan-Meier curve of each split (`eda.plots=true`)"),
    _a("survival_km_subgroup_plot", "survival/km_subgroup_{column}.png", "EDA", WRITE_ONCE, OPTIONAL, "eda",
       "Kaplan-Meier curves by subgroup on the training split"),
    _a("survival_calibration_plot", "survival/calibration_{split}.png", "validate", WRITE_ONCE, OPTIONAL, "metrics",
       "predicted against observed (Kaplan-Meier) risk at each horizon"),
    _a("survival_td_auc_plot", "survival/td_auc_{split}.png", "validate", WRITE_ONCE, OPTIONAL, "metrics",
       "time-dependent AUC at each horizon"),
    _a("survival_risk_groups_plot", "survival/km_risk_groups_{split}.png", "validate", WRITE_ONCE, OPTIONAL,
       "metrics", "Kaplan-Meier curves of the predicted risk groups"),
    _a("survival_importance_plot", "survival/explain_importance.png", "explain", WRITE_ONCE, OPTIONAL,
       "explanations", "the mean absolute attribution of each input to the risk score"),
    # a cross-validation root (the parent folder of K fold runs)
    _a("cv_summary", "cv_summary.json", "cv-summary", VERSIONED, OPTIONAL, "cv",
       "the metric distribution across the folds", scope=CV_ROOT),
    _a("cv_distribution_plot", "plots/cv_distribution.png", "cv-summary", VERSIONED, OPTIONAL, "cv",
       "the distribution of each metric across folds", scope=CV_ROOT),
    _a("cv_events", "events.jsonl", "cv-summary", APPENDED, OPTIONAL, "cv",
       "the cross-validation root's own event log", scope=CV_ROOT),
    _a("cv_report_md", "report.md", "report", VERSIONED, OPTIONAL, "cv", "the cross-validation report",
       scope=CV_ROOT),
    _a("cv_report_html", "report.html", "report", VERSIONED, OPTIONAL, "cv", "the cross-validation report, HTML",
       scope=CV_ROOT),
    _a("cv_report_pdf", "report.pdf", "report --pdf", VERSIONED, OPTIONAL, "cv", "the cross-validation report, PDF",
       scope=CV_ROOT),
)

_BY_KEY = {a.key: a for a in ARTEFACTS}


def artefact(key: str) -> Artefact:
    """The artefact declared under ``key``; an unknown key is a programming error, named with the known ones."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no artefact '{key}' is declared in medtorch.artefacts; declared: {sorted(_BY_KEY)}") from None


def of_path(rel: str | Path, scope: str = RUN) -> Artefact | None:
    """The artefact a path relative to its directory is an instance of (first match), or None."""
    rel = Path(rel).as_posix()
    return next((a for a in ARTEFACTS if a.scope == scope and a.regex.match(rel)), None)


def declared(rel: str | Path, scope: str = RUN) -> Artefact:
    """The artefact a path relative to its directory is an instance of; a path no artefact declares is refused
    (for writers: ``Run.record`` looks up the kind, write-once or versioned, of what it is asked to write)."""
    found = of_path(rel, scope)
    if found is None:
        raise KeyError(f"'{Path(rel).as_posix()}' is not a declared artefact of a {scope} directory; declare it in "
                       "medtorch/artefacts.py (its path, producer, kind, report section and text) before writing it")
    return found


def record_class(key: str) -> type | None:
    """The dataclass (with a strict ``from_dict(d, where)``) that reads the artefact declared under ``key``, or None."""
    import importlib

    spec = artefact(key).record
    if not spec:
        return None
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def evidence(key: str, at: str = "", **values: object) -> str:
    """An evidence pattern for the report: the artefact's glob (placeholders in ``values`` fixed), then
    ``#at`` to take one part of a JSON/YAML file; a cross-validation root's artefact is seen from a
    fold run, one folder up (``../``)."""
    a = artefact(key)
    return ("../" if a.scope == CV_ROOT else "") + a.glob_of(**values) + (f"#{at}" if at else "")


def produces(pattern: str) -> Artefact | None:
    """The declared artefact an evidence pattern (as ``evidence`` makes them) looks for, or None when
    no artefact matches it: a report that looks for a file nothing writes."""
    rel = pattern.partition("#")[0]
    scope = CV_ROOT if rel.startswith("../") else RUN
    return of_path(re.sub(r"[*?]|\[[^]]*\]", "x", rel.removeprefix("../")), scope)


def required(task: str) -> tuple[Artefact, ...]:
    """The artefacts every complete run of ``task`` (classification | survival) holds."""
    return tuple(a for a in ARTEFACTS if a.scope == RUN and task in a.required)


def file_part(text: object, reserved: frozenset[str] = frozenset()) -> str:
    """A name from the data (a column) as one file-name component: ASCII letters, digits, ``_`` and ``-``
    kept, anything else ``_``, at most 60 characters. Where that changed the name, or the name is
    ``reserved`` for another file, 8 hex digits of its SHA-256 are added: a column never writes
    outside its folder (``a/../b``), never fails on length, and two columns never share a file."""
    text = str(text)
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", text)[:60]
    if clean == text and clean and clean not in reserved:
        return clean
    return f"{clean}_{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


def file_names() -> frozenset[str]:
    """The fixed file names the registry declares (for the test that no other module spells them)."""
    return frozenset(Path(a.path).name for a in ARTEFACTS if "{" not in Path(a.path).name)


def _who(a: Artefact) -> str:
    if a.required == BOTH:
        return "every run"
    if a.required:
        return f"{next(iter(a.required))} runs"
    return "when configured or asked for"


def readme_table() -> str:
    """The README's run-directory table (``python -m medtorch.artefacts --readme`` prints it)."""
    rows = ["| file | written by | kind | in a default run | what it holds |", "| --- | --- | --- | --- | --- |"]
    for a in ARTEFACTS:
        if a.scope == RUN:
            rows.append(f"| `{a.path}` | {a.producer} | {a.kind} | {_who(a)} | {a.text} |")
    rows += ["", "A cross-validation root (the folder above its K fold runs) holds:", "",
             "| file | written by | kind | what it holds |", "| --- | --- | --- | --- |"]
    for a in ARTEFACTS:
        if a.scope == CV_ROOT:
            rows.append(f"| `{a.path}` | {a.producer} | {a.kind} | {a.text} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--readme"]:
        sys.exit("usage: python -m medtorch.artefacts --readme")
    print(readme_table(), end="")
