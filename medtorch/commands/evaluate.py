"""``medtorch evaluate RUN [--test-data NEW_FILE]``: the governed look at a test set.

Exit codes: 0 evaluated and every acceptance criterion passed (or none was set); 1 evaluated
and at least one criterion failed (printed with its observed value and margin); 2 bad input;
3 a run artefact or the data changed since training; 4 the new test data overlaps the data
the model was developed on.
"""

from __future__ import annotations

import argparse
import os

help = "evaluate a run on its sealed test set (or new test data) once, under the test-set ledger"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory (as printed at the end of train.py)")
    parser.add_argument("--test-data", metavar="NEW_FILE", default=None,
                        help="a new independent test file (CSV/Parquet, same columns); checked for overlap with the run's data")
    parser.add_argument("--ledger", default=os.environ.get("MEDTORCH_TEST_LEDGER", "test_ledger.jsonl"),
                        help="the project's test-set ledger (default: $MEDTORCH_TEST_LEDGER or ./test_ledger.jsonl)")
    parser.add_argument("--acceptance", metavar="FILE", default=None,
                        help="amend the acceptance criteria (YAML with 'criteria'); after a test look the run is marked")
    from medtorch.stack import settings

    settings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from medtorch.errors import EXIT_CRITERIA_FAILED, EXIT_OK
    from medtorch.evaluation.governed import governed_test_look, print_evaluation

    from medtorch.stack import settings
    from medtorch.survival.checks import is_survival_run

    if is_survival_run(args.run):  # the survival assessment under the same ledger (medtorch/survival/governed.py)
        from medtorch.survival.governed import print_survival_evaluation, survival_test_look

        evaluation = survival_test_look(args.run, ledger_path=args.ledger, test_data=args.test_data,
                                        acceptance_file=args.acceptance)
        print_survival_evaluation(evaluation)
        return 0 if evaluation["passed"] else EXIT_CRITERIA_FAILED

    evaluation = governed_test_look(args.run, test_data=args.test_data, ledger_path=args.ledger,
                                    acceptance_file=args.acceptance, load_options=settings.load_options(args))
    print_evaluation(evaluation)
    return EXIT_OK if evaluation["passed"] else EXIT_CRITERIA_FAILED
