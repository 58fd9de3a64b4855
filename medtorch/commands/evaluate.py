"""``medtorch evaluate RUN [--test-data NEW_FILE] [--registry URL]``: the governed look at a test set.

Exit codes (``medtorch/errors.py``): ``EXIT_OK`` evaluated and every acceptance criterion passed
(or none was set); ``EXIT_CRITERIA_FAILED`` evaluated and at least one criterion failed (printed
with its observed value and margin); ``EXIT_BAD_INPUT`` bad input; ``EXIT_INTEGRITY`` a run
artefact, the data, the acceptance criteria or the test-set registry do not match what was
recorded; ``EXIT_NOT_INDEPENDENT`` the new test data overlaps the data the model was developed on.
"""

from __future__ import annotations

import argparse

help = "evaluate a run on its sealed test set (or new test data) once, recorded in the test-set registry"


class _Retired(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        from medtorch.registry.location import IMPORT_HINT

        parser.error(f"{option_string} is retired. {IMPORT_HINT}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory (as printed at the end of train.py)")
    parser.add_argument("--test-data", metavar="NEW_FILE", default=None,
                        help="a new independent test file (CSV/Parquet, same columns); checked for overlap with the run's data")
    parser.add_argument("--registry", metavar="URL", default=None,
                        help="the project's test-set registry (default: $MEDTORCH_REGISTRY, else the registry the run is "
                             "bound to); another registry than the run's is an override, recorded and shown")
    parser.add_argument("--ledger", action=_Retired, help=argparse.SUPPRESS)
    parser.add_argument("--acceptance", metavar="FILE", default=None,
                        help="amend the acceptance criteria (YAML with 'criteria'); after a test look the run is marked")
    from medtorch.stack import settings

    settings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from medtorch.registry.location import retired

    retired()  # before anything heavy is imported
    from medtorch.errors import EXIT_CRITERIA_FAILED, EXIT_OK
    from medtorch.evaluation.governed import governed_test_look, print_evaluation

    from medtorch.stack import settings
    from medtorch.survival.checks import is_survival_run

    if is_survival_run(args.run):  # the survival assessment under the same registry (medtorch/survival/governed.py)
        from medtorch.survival.checks import refuse_ignored_options
        from medtorch.survival.governed import print_survival_evaluation, survival_test_look

        refuse_ignored_options(args, "evaluate", **settings.defaults())  # before the look: a refused option must not use one up
        evaluation = survival_test_look(args.run, registry=args.registry, test_data=args.test_data,
                                        acceptance_file=args.acceptance)
        print_survival_evaluation(evaluation)
        return EXIT_OK if evaluation["passed"] else EXIT_CRITERIA_FAILED

    evaluation = governed_test_look(args.run, test_data=args.test_data, registry=args.registry,
                                    acceptance_file=args.acceptance, load_options=settings.load_options(args))
    print_evaluation(evaluation)
    return EXIT_OK if evaluation["passed"] else EXIT_CRITERIA_FAILED
