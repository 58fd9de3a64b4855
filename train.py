"""Train a medtorch model: ``python train.py [+experiment=NAME] [key=value ...]``.

Hydra composes the config from conf/ (validated against the structured schema in
medtorch/config.py), creates the run directory, and hands both to medtorch.pipeline.
"""

import sys
import uuid

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from medtorch.config import register_configs
from medtorch.errors import EXIT_CRITERIA_FAILED, MedtorchError
from medtorch.run import discard_unstarted

register_configs()
if not OmegaConf.has_resolver("medtorch_uid"):
    OmegaConf.register_new_resolver("medtorch_uid", lambda: uuid.uuid4().hex[:8], use_cache=True)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from medtorch import pipeline

    hc = HydraConfig.get()
    launch = {  # what Hydra's output_subdir would hold; written by medtorch after its checks
        "config.yaml": OmegaConf.to_yaml(cfg),
        "hydra.yaml": OmegaConf.to_yaml(OmegaConf.create({"hydra": OmegaConf.to_container(hc)})),
        "overrides.yaml": OmegaConf.to_yaml(OmegaConf.create(list(hc.overrides.task))),
    }
    try:
        metrics = pipeline.run(cfg, hc.runtime.output_dir, launch)
    except MedtorchError as e:
        print(f"medtorch: error: {e}", file=sys.stderr, flush=True)
        discard_unstarted(hc.runtime.output_dir)  # refused before the run started: leave nothing behind
        sys.exit(e.exit_code)
    if metrics.get("test_look") and not metrics["test_look"]["passed"]:
        sys.exit(EXIT_CRITERIA_FAILED)  # the governed test look failed an acceptance criterion (printed above)
    if metrics.get("task") == "survival":
        return metrics["val"]["overall"]["cindex"]["estimate"]  # Harrell's C for sweepers
    return metrics["val"]["mcc"]  # for Hydra sweepers that optimise a value


if __name__ == "__main__":
    main()
