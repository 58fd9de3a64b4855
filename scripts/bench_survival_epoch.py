"""A survival training epoch (Cox partial likelihood, Efron ties) against a classification epoch of the
same network and batch size, both through Lightning's Trainer and medtorch's modules and loader, in one
process. Prints, over --repeats alternated runs of each, the median epoch time and the fastest epoch of each and
their ratios (the target is at most 1.3x). On a shared machine the fastest epoch is the steadier figure: other
processes only ever add time to an epoch.

    python scripts/bench_survival_epoch.py [--rows 20000] [--batch 512] [--epochs 5] [--ties efron] [--threads 1]
"""

import argparse
import statistics
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ties", default="efron", choices=["efron", "breslow"])
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's); 1 keeps other processes' load from stretching "
                        "every parallel op on a shared machine")
    a = p.parse_args()
    if min(a.rows, a.features, a.batch, a.epochs, a.repeats) < 1:
        p.error("--rows, --features, --batch, --epochs and --repeats must be >= 1")
    if a.threads:
        torch.set_num_threads(a.threads)
    import pytorch_lightning as pl

    from medtorch.data.tensors import TensorLoader
    from medtorch.models.module import Classifier
    from medtorch.models.networks import MLP
    from medtorch.survival.module import CoxModule

    torch.manual_seed(0)
    x = torch.randn(a.rows, a.features)
    risk = x[:, 0] - 0.5 * x[:, 1]
    t = torch.round(torch.distributions.Exponential(torch.exp(risk)).sample() * 100) / 100  # tied times
    e = (torch.rand(a.rows) < 0.6).float()
    y_cls = (risk > 0).long()
    y_surv = torch.stack([t, e], 1)

    class EpochTimer(pl.Callback):
        def __init__(self):
            self.times = []

        def on_train_epoch_start(self, trainer, module):
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.times.append(time.perf_counter() - self.t0)

    def epoch_time(module, y) -> float:
        timer = EpochTimer()
        trainer = pl.Trainer(max_epochs=a.epochs + 1, accelerator="cpu", logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                             callbacks=[timer])
        trainer.fit(module, TensorLoader(x, y, a.batch, shuffle=True, seed=0))
        return timer.times[1:]  # the first epoch warms up

    def net(outputs: int):
        torch.manual_seed(0)
        return MLP(a.features, outputs, [256, 256], 0.1)

    # alternated and repeated: on a shared machine the load changes between runs; the fastest of each counts
    cls, surv = [], []
    for _ in range(a.repeats):
        cls += epoch_time(Classifier(net(2), ["a", "b"]), y_cls)
        surv += epoch_time(CoxModule(net(1), a.ties), y_surv)  # one output: the risk score
    med = statistics.median(surv) / statistics.median(cls)
    print(f"threads={torch.get_num_threads()} rows={a.rows} batch={a.batch} MLP {a.features}-256-256 ({a.ties} ties)  median epoch: classification "
          f"{statistics.median(cls) * 1e3:.1f} ms, survival {statistics.median(surv) * 1e3:.1f} ms, ratio {med:.2f}x   "
          f"fastest epoch: classification {min(cls) * 1e3:.1f} ms, survival {min(surv) * 1e3:.1f} ms, "
          f"ratio {min(surv) / min(cls):.2f}x")


if __name__ == "__main__":
    main()
