"""``medtorch explain RUN [--method ...] [--rows ...]``: explain any finished run.

The run is loaded on a bridged stack (``require_bridged_stack``: hashes verified, no Lightning), its rows rebuilt from its
data and checked by hash, and the explanation written to its own directory
RUN/explanations/NAME/ (the one made at training time, RUN/explain/, is never overwritten),
with one event in the run's log. Settings start from the run's ``explain`` config (or
the defaults) and the options here override them.
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK
from medtorch.explain.settings import BASELINES, METHODS, SPLITS, TRANSPARENT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory of a finished training run")
    parser.add_argument("--method", nargs="+", choices=[*METHODS, "all"], metavar="METHOD",
                        help=f"attribution method(s): {', '.join(METHODS)}, or all (default: the run's explain.methods)")
    parser.add_argument("--rows", nargs="+", type=int, metavar="ID", default=None,
                        help="row ids to explain locally, besides the most/least confident and misclassified rows")
    parser.add_argument("--split", choices=SPLITS, help="rows to explain (default: the run's explain.split, val)")
    parser.add_argument("--baseline", choices=BASELINES, help="reference input (default: the run's explain.baseline)")
    parser.add_argument("--max-rows", type=int, help="at most this many rows are attributed (a seeded sample)")
    parser.add_argument("--name", help="directory name under RUN/explanations/ (default: the UTC time)")
    parser.add_argument("--compare", metavar="BASELINE_RUN", nargs="?", const="transparent",
                        help="compare the run with transparent models fitted on its training rows (explain.transparent, "
                             "default: logistic) on the validation rows: MCC and AUROC with paired bootstrap CIs and the "
                             "verdict against the best; give a logistic-regression run on the same data and split to "
                             "add it (default: the run's explain.compare_with; 'none' to skip)")
    parser.add_argument("--transparent", nargs="+", choices=TRANSPARENT, metavar="MODEL",
                        help=f"transparent models for --compare: {', '.join(TRANSPARENT)} (default: the run's explain.transparent)")
    from medtorch.stack import settings

    settings.add_arguments(parser)


def settings_for(config: dict, args: argparse.Namespace) -> dict:
    from dataclasses import asdict

    from medtorch.config import ExplainConfig

    s = {**asdict(ExplainConfig()), **(config.get("explain") or {})}
    s["enabled"] = True
    if args.method:
        s["methods"] = list(METHODS) if "all" in args.method else list(dict.fromkeys(args.method))
    if args.rows is not None:
        s["rows"] = args.rows
    for key, value in (("split", args.split), ("baseline", args.baseline), ("max_rows", args.max_rows),
                       ("compare_with", args.compare)):
        if value is not None:
            s[key] = value
    if args.transparent:
        s["transparent"] = list(dict.fromkeys(args.transparent))
    compare = args.compare not in (None, "none") or (args.compare is None and s["compare_with"])
    if s["compare_with"] in ("none", "transparent"):
        s["compare_with"] = None
    if not compare:
        s["transparent"] = []  # without --compare (or the run's compare_with) nothing is compared
    elif s["split"] != "val":
        from medtorch.errors import MedtorchError

        raise MedtorchError(f"--compare compares MCC and AUROC on the validation rows; got --split {s['split']}. "
                            "Drop --split (the test set is looked at only by medtorch evaluate).")
    return s


def run(args: argparse.Namespace) -> int:
    from medtorch.survival.checks import is_survival_run

    if is_survival_run(args.run):  # attributions of the risk score (medtorch/survival/explain_later.py)
        from medtorch.stack import settings
        from medtorch.survival.checks import refuse_ignored_options
        from medtorch.survival.explain_later import explain_survival_run

        refuse_ignored_options(args, "explain", **settings.defaults())
        return explain_survival_run(args)
    from medtorch.artefacts import artefact
    from medtorch.explain.explanation import explain_model
    from medtorch.explain.rows import inputs_for_run
    from medtorch.stack.gate import require_bridged_stack

    from medtorch.audit import utc_now

    from medtorch.stack import settings

    from medtorch.run import RunDir

    # refusals first: loading on another stack may write a bridge report (training never sets explain.split=test)
    rd = RunDir(args.run).require()
    if args.split == "test":
        from medtorch.evaluation.test_rows import refuse_test_rows_before_a_look

        refuse_test_rows_before_a_look(rd, "medtorch explain")
    name = args.name or utc_now().replace(":", "-")
    out = rd.new_explanation_dir(name)  # refused before loading, as the split
    options = settings.load_options(args)
    loaded = require_bridged_stack(args.run, "explain", **options)
    s = settings_for(loaded.config, args)
    baseline = require_bridged_stack(s["compare_with"], "explain", **options) if s["compare_with"] else None
    report = explain_model(inputs_for_run(loaded, s["split"]), s, loaded.rd, out, baseline)
    print(f"explained {report['rows_explained']} {report['split']} rows of the {report['model']} model with "
          + ", ".join(f"{m} ({e['seconds']:.2f} s)" for m, e in report["methods"].items()))
    rnd = report.get("sanity", {}).get("randomisation")
    if rnd:
        print(f"model-randomisation test: {'passed' if rnd['passed'] else 'FAILED'} "
              f"(mean per-row Spearman {rnd['mean_row_spearman']:.2f})")
    if "comparison" in report:
        print(report["comparison"]["verdict"])
    print(f"summary: {out / artefact('explanation_summary').name}")
    return EXIT_OK
