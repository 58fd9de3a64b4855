"""Confirm the whole medtorch path on a GPU workstation, and report what was found.

    python scripts/gpu_check.py [--out gpu_check] [--epochs 5]

For each precision (32-true, bf16-mixed, 16-mixed) it trains the default experiment with
``trainer=gpu`` through the real train.py, then runs ``medtorch explain`` and ``medtorch
bridge --device cuda`` on the 32-true run, and trains 32-true twice to check that two runs
with the same seed give identical predictions on this GPU (TF32 off); in a source checkout it
also runs the CUDA tests (tests/test_gpu.py: each precision, determinism, gradient clipping
after fp16 unscaling) and the module tests. It prints a table and
writes ``OUT/gpu_check.json``. Exit 0 when every step passed, 1 otherwise, 2 without CUDA.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from medtorch.run import RunDir

REPO = Path(__file__).resolve().parent.parent


def _run(cmd: list[str]) -> tuple[int, str]:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    return proc.returncode, (proc.stdout + proc.stderr)[-2000:]


def _train(out: Path, name: str, epochs: int, *overrides: str) -> tuple[int, str, Path]:
    rd = out / name
    code, tail = _run([sys.executable, "train.py", "trainer=gpu", f"trainer.max_epochs={epochs}",
                       "trainer.enable_progress_bar=false", f"hydra.run.dir={rd}", *overrides])
    return code, tail, rd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="gpu_check")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible to torch (torch.cuda.is_available() is False).", file=sys.stderr)
        return 2
    out = (REPO / args.out).resolve()
    results: list[dict] = []
    for precision in ("32-true", "bf16-mixed", "16-mixed"):
        code, tail, rd = _train(out, f"train_{precision}", args.epochs, f"trainer.precision={precision}")
        mcc = json.loads(RunDir(rd).metrics.read_text())["val"]["mcc"] if code == 0 else None
        results.append({"step": f"train {precision}", "exit": code, "val_mcc": mcc, "tail": tail if code else ""})
    ref = out / "train_32-true"
    for step, cmd in (("explain", ["explain", str(ref), "--device", "cuda"]),
                      ("bridge --device cuda", ["bridge", str(ref), "--device", "cuda"])):
        code, tail = _run([sys.executable, "-m", "medtorch.cli", *cmd])
        results.append({"step": step, "exit": code, "tail": tail})
    code, tail, again = _train(out, "train_32-true_again", args.epochs, "trainer.precision=32-true")
    same = code == 0 and RunDir(again).predictions("val").read_bytes() == RunDir(ref).predictions("val").read_bytes()
    results.append({"step": "determinism (same seed twice)", "exit": 0 if same else 1, "tail": "" if same else tail})
    if (REPO / "tests" / "test_gpu.py").is_file():  # a source checkout with the dev extras: the CUDA tests too
        code, tail = _run([sys.executable, "-m", "pytest", "-q", "tests/test_gpu.py", "tests/test_module.py"])
        results.append({"step": "pytest tests/test_gpu.py tests/test_module.py (fp16 clipping, precisions)",
                        "exit": code, "tail": tail})
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
              "results": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(f"{report['device']}  torch {report['torch']}  CUDA {report['cuda']}")
    for r in results:
        extra = f"  val MCC {r['val_mcc']:.3f}" if r.get("val_mcc") is not None else ""
        print(f"  {'PASS' if r['exit'] == 0 else 'FAIL'}  {r['step']}{extra}")
        if r["exit"] and r["tail"]:
            print("    " + r["tail"].strip().replace("\n", "\n    ")[-800:])
    print(f"report: {out / 'gpu_check.json'}")
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
