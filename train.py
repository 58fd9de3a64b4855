"""Train a medtorch model: ``python train.py [+experiment=NAME] [key=value ...]``.

The same as ``medtorch train ...``: Hydra composes the config from medtorch/conf/ (validated
against the structured schema in medtorch/config.py), plus a ./conf/ directory of your own
when there is one, creates the run directory, and hands both to medtorch.pipeline
(see medtorch/launch.py).
"""

from medtorch.launch import main

if __name__ == "__main__":
    from medtorch.process_exit import run_then_finish

    from medtorch.errors import EXIT_OK

    def _train() -> int:
        main()  # an error exits through SystemExit with its documented code
        return EXIT_OK

    run_then_finish(_train)
