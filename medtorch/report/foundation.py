"""Renderers for the artefacts every training run writes (manifest, split, preprocessing,
model, metrics, event log). Each takes the evidence and the artefacts found for its section
and returns blocks plus the artefact paths it showed; anything else found is shown generically.
"""

from __future__ import annotations

from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

from medtorch.artefacts import artefact
from medtorch.figures import png_bytes
from medtorch.report.blocks import Block, Image, Missing, Para, Sub, Table, file_blocks, fmt, load_structured

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence

Found = list[tuple[str, "str | None"]]


def _p(key: str, **values: object) -> str:
    """The path of the artefact declared under ``key``, relative to the run (as the report names it)."""
    return artefact(key).relative(**values)


def _json(ev: "Evidence", key: str, **values: object) -> Any:
    path = ev.root / _p(key, **values)
    return load_structured(path) if path.is_file() else None


def _event(ev: "Evidence", action: str) -> dict[str, Any] | None:
    return next((e for e in reversed(ev.events) if e.get("action") == action), None)


def history(ev: "Evidence", prefixes: tuple[str, ...], title: str) -> Block:
    """The events whose action starts with one of ``prefixes``, as a table (or a line saying there are none)."""
    rows = [[e.get("seq"), e.get("time_utc"), e.get("user"), e.get("action"), fmt(e.get("details"))]
            for e in ev.events if str(e.get("action", "")).startswith(prefixes)]
    if not rows:
        return Para(f"{title}: none recorded in the event log.")
    return Table(["#", "time (UTC)", "user", "action", "details"], rows, f"{title} ({_p('events')})")


def monitoring(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    from medtorch.report.privacy import monitoring_reference

    return [*monitoring_reference(ev), history(ev, ("predict", "monitor"), "Prediction batches and monitoring runs")], set()


def model_card(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    card = ev.config.get("card") or {}
    spec = _json(ev, "model_spec") or {}
    out: list[Block] = []
    rows = [["intended use", card.get("intended_use") or "not stated (card.intended_use)"],
            ["intended users", card.get("users") or "not stated (card.users)"],
            ["out of scope", card.get("out_of_scope") or "not stated (card.out_of_scope)"]]
    out.append(Table(["field", "value"], rows, "Intended use (from the config's card)"))
    model = spec.get("model") or ev.config.get("model") or {}
    started = _event(ev, "training_started") or {}
    out.append(Table(["field", "value"], [
        ["architecture", fmt(model.get("name"))],
        ["settings", fmt({k: v for k, v in model.items() if k != "name"})],
        ["inputs", f"{spec.get('n_features', 'n/a')} features after preprocessing"],
        ["classes", fmt(spec.get("classes"))],
        ["trainable parameters", fmt(started.get("details", {}).get("parameters"))],
        ["selected epoch", fmt((spec.get("selected_by") or {}).get("best_epoch"))],
    ], "Model"))
    data = ev.manifest.get("data") or {}
    split = _json(ev, "split") or {}
    parts = split.get("parts", {})
    out.append(Table(["field", "value"], [
        ["source", fmt(data.get("name") or data.get("path"))],
        ["rows, columns", f"{fmt(data.get('rows'))}, {fmt(data.get('columns'))}"],
        ["description", ev.config.get("data", {}).get("description") or "not stated (data.description)"],
        ["split rows", ", ".join(f"{k} {v.get('rows')}" for k, v in parts.items()) or "n/a"],
    ], "Training data"))
    limits = list(card.get("limitations") or [])
    if not limits:
        out.append(Missing("No limitations are stated in the config (card.limitations)."))
    else:
        out.append(Sub("Limitations"))
        out.extend(Para(f"- {x}") for x in limits)
    return out, {_p("config"), _p("model_spec")}


def data_source(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    data = ev.manifest.get("data")
    if not data:
        return [Missing("The manifest records no data source.")], set()
    rows = [[k, fmt(v)] for k, v in data.items()]
    out: list[Block] = [Table(["field", "value"], rows, f"Data source ({_p('manifest')})")]
    prep = _json(ev, "preprocessing") or {}
    if prep:
        out.append(Para(f"Processing from raw columns to model inputs: median imputation and standardisation of "
                        f"{len(prep.get('numeric', []))} numeric columns, most-frequent imputation and one-hot encoding of "
                        f"{len(prep.get('categorical', []))} categorical columns, {len(prep.get('features', []))} model "
                        f"inputs; every value below was fitted on the '{(prep.get('fitted_on') or {}).get('split')}' "
                        f"split only ({_p('preprocessing')})."))
    return out, {_p("manifest")}


def split(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    rec = _json(ev, "split")
    if rec is None:
        return [], set()
    classes = sorted({c for p in rec.get("parts", {}).values() for c in p.get("class_counts", {})})
    rows = [[name, p.get("rows"), *[p.get("class_counts", {}).get(c, 0) for c in classes], p.get("ids_sha256", "")[:16] + "..."]
            for name, p in rec.get("parts", {}).items()]
    out: list[Block] = [
        Para(f"Strategy {rec.get('strategy')}, seed {rec.get('seed')}, fractions {fmt(rec.get('fractions'))}. "
             f"The split was made before anything was fitted; the test rows were "
             f"{'sealed by training (hashed, not evaluated by it; later looks: see the test-set ledger section)' if rec.get('test_sealed') else 'not sealed'}."),
        Table(["split", "rows", *classes, "row ids sha256"], rows, "Rows and class counts per split"),
    ]
    from medtorch.report.typed import leakage_table

    out.extend(leakage_table(ev))
    prep = _json(ev, "preprocessing") or {}
    fitted = prep.get("fitted_on") or {}
    if fitted:
        out.append(Para(f"Preprocessing (imputation, encoding, scaling) was fitted on the '{fitted.get('split')}' split only "
                        f"({fitted.get('rows')} rows, ids sha256 {str(fitted.get('ids_sha256'))[:16]}...): "
                        f"{len(prep.get('numeric', []))} numeric and {len(prep.get('categorical', []))} categorical columns, "
                        f"{len(prep.get('features', []))} model inputs ({_p('preprocessing')})."))
    return out, {_p("split"), _p("leakage")}


def _history_plot(history: list[dict[str, Any]]) -> bytes:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    epochs = [h.get("epoch") for h in history]
    fig = Figure(figsize=(9, 3.4))
    a, b = fig.subplots(1, 2)
    for key in ("train_loss", "val_loss"):
        a.plot(epochs, [h.get(key) for h in history], marker="o", label=key.replace("_", " "))
    for key in ("train_mcc", "val_mcc"):
        b.plot(epochs, [h.get(key) for h in history], marker="o", label=key.replace("_", " "))
    for ax, title in ((a, "loss"), (b, "MCC")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.legend()
    # fixed margins, wide enough for six-character tick labels (0.0010, 12000) and the titles and
    # axis names here; tight_layout measured every text first (0.15-0.16 s a figure against 0.10-0.11 s)
    fig.subplots_adjust(left=0.09, right=0.99, bottom=0.15, top=0.91, wspace=0.24)
    return png_bytes(fig, dpi=100)  # compact, as every figure of the run (medtorch.png_canvas)


def training(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    c = ev.config
    m, o, t, es = c.get("model", {}), c.get("optim", {}), c.get("trainer", {}), c.get("early_stopping", {})
    reg = [["dropout", fmt(m.get("dropout"))], ["weight decay (AdamW, decoupled)", fmt(o.get("weight_decay"))],
           ["early stopping", f"{'on' if es.get('enabled') else 'off'}: {es.get('monitor')} ({es.get('mode')}), "
                              f"patience {es.get('patience')}"],
           ["gradient clipping", fmt(t.get("gradient_clip_val")) if t.get("gradient_clip_val") else "off"]]
    run = [["seed", fmt(c.get("seed"))], ["learning rate", fmt(o.get("lr"))], ["batch size", fmt(t.get("batch_size"))],
           ["max epochs", fmt(t.get("max_epochs"))], ["precision", fmt(t.get("precision"))],
           ["deterministic", fmt(t.get("deterministic"))], ["accelerator", fmt(t.get("accelerator"))]]
    out: list[Block] = [Table(["regularisation", "setting"], reg, f"Regularisation ({_p('config')})"),
                        Table(["setting", "value"], run, f"Optimisation and trainer ({_p('config')})")]
    metrics = _json(ev, "metrics") or {}
    history = metrics.get("history") or []
    sel = metrics.get("selected_epoch") or {}
    if sel and sel.get("C") is not None:  # model=logistic: a converged fit, C chosen on validation
        out.append(Para(f"Fitted to convergence (L-BFGS) for each L2 strength C of the grid; C = {fmt(sel['C'])} has the "
                        f"lowest validation log-loss ({fmt(sel.get('best_score'))}). That score, like every validation "
                        "figure of a setting chosen on validation, is optimistic; the governed test look is the unbiased one."))
    elif sel:
        out.append(Para(f"Trained {metrics.get('epochs_trained')} epoch(s); the model is the epoch with the best "
                        f"{sel.get('monitor')} ({fmt(sel.get('best_score'))}, epoch {sel.get('best_epoch')})."))
    if history:
        keys = list(history[0])
        out.append(Table(keys, [[fmt(h.get(k)) for k in keys] for h in history], f"Per-epoch history ({_p('metrics')})"))
        out.append(Image(_p("training_history_plot"), _history_plot(history), "Training and validation loss and MCC by epoch",
                         generated=True))
    return out, {_p("config"), _p("model_spec"), _p("metrics"), _p("training_log")}


def metrics(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    rec = _json(ev, "metrics")
    out: list[Block] = []
    handled: set[str] = set()
    for split_name in ("val", "test"):
        m = (rec or {}).get(split_name)
        if not m:
            continue
        handled.add(_p("metrics"))
        label = {"val": "Validation", "test": "Test"}[split_name]
        out.append(Sub(f"{label} (n={m['n']})"))
        if split_name == "val":
            out.append(Para(validation_caveat(_json(ev, "assessment", split="val"))))
        out.append(Table(["MCC", "accuracy", "balanced accuracy", "AUROC"],
                         [[fmt(m.get("mcc")), fmt(m.get("accuracy")), fmt(m.get("balanced_accuracy")), fmt(m.get("auroc"))]],
                         f"{label} metrics ({_p('metrics')})"))
        per = m.get("per_class", {})
        cols = ["support", "sensitivity", "specificity", "precision", "npv", "f1", "auroc"]
        out.append(Table(["class", *cols], [[c, *[fmt(v.get(k)) for k in cols]] for c, v in per.items()],
                         f"{label} metrics per class"))
        classes = m.get("classes", [])
        out.append(Table(["true \\ predicted", *classes], [[c, *row] for c, row in zip(classes, m.get("confusion_matrix", []))],
                         f"{label} confusion matrix (rows: true class; columns: predicted class)"))
        for rel, _ in found:
            if fnmatch(rel, artefact("confusion_plot").glob_of(split=split_name)):
                if "normalized" not in rel:  # the row-normalised matrix is the per-class table above, listed not drawn
                    out.extend(file_blocks(ev.root, rel))
                handled.add(rel)
    from medtorch.report.looks import intervals_and_looks

    shown, more = intervals_and_looks(ev, found, rec)
    return out + shown, handled | more


def validation_caveat(assessment: Any) -> str:
    """Beside validation metrics: they are optimistic, and how their intervals were made."""
    text = ("These validation figures are optimistic: the validation rows chose the model (the best epoch, or the L2 "
            "strength C of a logistic regression), so they are biased upwards. The unbiased figure is the governed test "
            "look (medtorch evaluate RUN).")
    ci = (assessment or {}).get("ci") if isinstance(assessment, dict) else None
    if ci:
        text += (f" Intervals ({_p('assessment', split='val')}, each with its n): MCC, balanced accuracy and AUROC by "
                 f"{ci.get('method')} ({ci.get('resamples')} resamples; BCa where stable, else percentile, the method "
                 f"recorded per interval); proportions by the {ci.get('proportion_method', 'bootstrap')} interval.")
        if ci.get("resampled") == "subjects":
            text += f" Rows of one subject are resampled together ({ci.get('subjects')} subjects)."
    return text


def acceptance(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    """Says plainly when the frozen acceptance criteria (``acceptance``) are an empty list (``acceptance=none``)."""
    record = _json(ev, "acceptance")
    if not isinstance(record, dict) or record.get("criteria"):
        return [], set()
    amended = any(fnmatch(rel, artefact("acceptance_amendment").glob) for rel, _ in found)
    folder = _p("acceptance_amendment", name="*").rsplit("/", 1)[0]
    then = (f" Criteria added later ({folder}/) are amendments, not a-priori criteria." if amended else
            " Metrics and confidence intervals are reported, but nothing is accepted or rejected.")
    return [Missing(f"No acceptance criteria were set for this run (acceptance={record.get('name')}): {_p('acceptance')} "
                    "froze an empty list before evaluation, so no result is judged against a threshold fixed a priori."
                    + then)], set()


def ledger(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    rec = _json(ev, "split") or {}
    metrics = _json(ev, "metrics") or {}
    test = rec.get("parts", {}).get("test")
    out: list[Block] = []
    from medtorch.report.story import read_story

    if test:
        out.append(Para(f"Test set: {test.get('rows')} rows, ids sha256 {test.get('ids_sha256')}; sealed by training "
                        f"(hashed, not evaluated by it): {fmt(rec.get('test_sealed'))}; since then: "
                        f"{read_story(ev).test_status} ({_p('events')})."))
    roles = _test_roles(ev)
    if roles:
        out.append(Table(["evaluation", "test set", "look on it", "role", "note", "registry override"],
                         [[r["evaluation"], r["test_set"][:12], r["look_on_test_set"], r["role"], r["note"],
                           r.get("registry_override") or "-"] for r in roles],
                         "Role of the test data at each look (one role per test set once it is demoted)"))
    out.append(history(ev, ("test_",), "Acts on the test set"))
    return out, {_p("split"), _p("metrics"), _p("test_roles")}


def _test_roles(ev: "Evidence") -> list[dict[str, Any]]:
    from medtorch.registry.current import current_roles

    return current_roles(ev.rd, ev.manifest)[0]


def stack(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    man = ev.manifest
    git = man.get("git") or {}
    out: list[Block] = [
        Table(["field", "value"], [["medtorch", fmt(man.get("medtorch_version"))], ["git commit", fmt(git.get("commit"))],
                                   ["uncommitted changes", fmt(git.get("dirty"))], ["command", fmt(man.get("command"))]],
              "Code"),
        Table(["package", "version"], [[k, fmt(v)] for k, v in (man.get("packages") or {}).items()], "Packages",
              collapsed=True),
        Table(["field", "value"], [[k, fmt(v)] for k, v in (man.get("device") or {}).items()], "Device"),
    ]
    if not any(fnmatch(p, artefact(k).glob) for p, _ in found for k in ("bridge_reference", "bridge_report")):
        out.append(Missing("Bridge history: no bridge re-evaluation of this model on another stack is recorded."))
    out.append(history(ev, ("bridge",), "Bridge history"))
    # the manifest's stack (the fingerprint) and bridge reports are shown generically when present
    return out, {f"{_p('manifest')}#packages", f"{_p('manifest')}#device"}


def _files(files: Any) -> str:
    """An event's inputs or outputs in one short cell: up to three names, then how many more."""
    names = list(files or {})
    if not names:
        return "-"
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def audit_trail(ev: "Evidence", found: Found) -> tuple[list[Block], set[str]]:
    rows = [[e.get("seq"), e.get("time_utc"), e.get("user"), e.get("host"), e.get("action"),
             _files(e.get("inputs")), _files(e.get("outputs")), str(e.get("hash"))[:12]]
            for e in ev.events]
    out: list[Block] = [
        Para(f"The event log ({_p('events')}) has {len(ev.events)} events; its hash chain and head were verified, and "
             f"{len(ev.recorded)} recorded files match their recorded sha256, when this report was written. "
             f"Re-check at any time with: medtorch audit verify {ev.root}"),
        Table(["#", "time (UTC)", "user", "host", "action", "inputs", "outputs", "line hash"], rows, "Event log",
              collapsed=True),
        Table(["artefact", "sha256", "recorded at"], [[k, r.sha256, r.where] for k, r in sorted(ev.recorded.items())],
              "Recorded artefacts", collapsed=True),
    ]
    return out, {_p("events")}
