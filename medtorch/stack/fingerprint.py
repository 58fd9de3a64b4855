"""The stack fingerprint: every part of the software and hardware stack that can move a number.

``collect`` returns a nested dict (JSON, stored as ``manifest["stack"]``). ``stack_hash`` is a
SHA-256 over the fields in ``HASHED``: the ones that can change what preprocessing and
inference compute. Fields that identify the machine but not the arithmetic (host name,
kernel release, Lightning version, git commit, trainer precision) are recorded and shown in
diffs but not hashed, so a kernel patch does not demand a bridge while a new CPU, a new
torch build, another thread count or another inference dtype does. ``diff`` lists the
fields that differ between two fingerprints, marking the hashed ones.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from medtorch.hashing import sha256_json
from medtorch.provenance import git_info, package_versions

FINGERPRINT_VERSION = 1

# Packages whose versions can change the numbers of preprocessing and inference (hashed).
NUMERIC_PACKAGES = ("medtorch", "torch", "numpy", "pandas", "pyarrow", "scikit-learn", "scipy")
# Packages recorded for the reviewer but not hashed: they train, configure or draw.
OTHER_PACKAGES = ("pytorch-lightning", "torchmetrics", "hydra-core", "omegaconf", "matplotlib", "captum")

# Instruction-set flags that select different CPU kernels (SIMD width, FMA, bf16/int8 units).
ISA_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
             "asimd", "sve", "sve2", "neon")

# Dotted paths of the fields that make up the hash.
HASHED = (
    "python.version", "python.implementation",
    "os.system", "os.machine", "os.libc",
    "cpu.model", "cpu.isa_flags", "cpu.torch_capability",
    "threads.intra_op",
    "torch.version", "torch.git_version", "torch.build",
    "cuda.runtime", "cuda.cudnn", "cuda.devices",
    "packages.numeric",
    "numeric.deterministic_algorithms", "numeric.deterministic_warn_only", "numeric.cudnn_benchmark",
    "numeric.cudnn_deterministic", "numeric.cudnn_allow_tf32", "numeric.cuda_matmul_allow_tf32",
    "numeric.float32_matmul_precision", "numeric.default_dtype",
    "inference.dtype", "inference.device",
)


def _cpu() -> dict[str, Any]:
    import torch

    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "cpu model") and value.strip():
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    elif sys.platform == "darwin":
        try:
            model = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                   text=True, timeout=5).stdout.strip() or model
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {
        "model": model,
        "logical_cores": os.cpu_count(),
        "isa_flags": sorted(f for f in ISA_FLAGS if f in flags),
        # the kernel family ATen dispatches to (DEFAULT, AVX2, AVX512, ...); ATEN_CPU_CAPABILITY changes it
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
    }


def _torch_build() -> dict[str, Any]:
    import torch

    shown = torch.__config__.show()
    settings = dict(re.findall(r"(BLAS_INFO|LAPACK_INFO|USE_MKL|USE_MKLDNN|USE_OPENMP|USE_CUDA|USE_ROCM)=([^,\s]+)", shown))
    libs = [line.strip(" -") for line in shown.splitlines() if re.search(r"Math Kernel|MKL-DNN|oneDNN|OpenMP|OpenBLAS", line)]
    return {"settings": settings, "libraries": libs, "cuda": torch.version.cuda, "hip": torch.version.hip,
            "debug": bool(torch.version.debug)}


def _driver() -> str | None:
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None


def _cuda() -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"available": False, "runtime": torch.version.cuda, "cudnn": None, "devices": [], "count": 0,
                "driver": None}
    devices = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        devices.append({"name": p.name, "capability": f"{p.major}.{p.minor}",
                        "memory_gib": round(p.total_memory / 2**30, 1)})
    return {"available": True, "runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
            "devices": devices, "count": len(devices), "driver": _driver()}


def _numeric(trainer_precision: str | None) -> dict[str, Any]:
    import torch

    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "default_dtype": str(torch.get_default_dtype()).replace("torch.", ""),
        "trainer_precision": trainer_precision,
    }


@functools.lru_cache(maxsize=1)
def _static() -> str:
    """The parts that cannot change inside one process (package metadata look-ups cost ~30 ms), as JSON."""
    from medtorch.version import __version__

    return json.dumps({
        "cpu": _cpu(),
        "torch_build": _torch_build(),
        "cuda": _cuda(),
        # medtorch's version is the one imported, not whichever copy is installed
        "packages": {"numeric": {**package_versions(NUMERIC_PACKAGES), "medtorch": __version__},
                     "other": package_versions(OTHER_PACKAGES)},
        "git": git_info(),
    })


def collect(inference_dtype: str = "float32", inference_device: str = "cpu",
            trainer_precision: str | None = None) -> dict[str, Any]:
    """The fingerprint of this process's stack as it is now (settings already applied)."""
    import torch

    static = json.loads(_static())  # a fresh copy each time
    fp: dict[str, Any] = {
        "version": FINGERPRINT_VERSION,
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "os": {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
               "libc": " ".join(platform.libc_ver()).strip() or None, "host": platform.node()},
        "cpu": static["cpu"],
        "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
        "torch": {"version": torch.__version__, "git_version": torch.version.git_version, "build": static["torch_build"]},
        "cuda": static["cuda"],
        "packages": static["packages"],
        "git": static["git"],
        "numeric": _numeric(trainer_precision),
        "inference": {"dtype": inference_dtype, "device": inference_device},
    }
    fp["hash"] = stack_hash(fp)
    return fp


def _get(fp: dict[str, Any], dotted: str) -> Any:
    node: Any = fp
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def stack_hash(fp: dict[str, Any]) -> str:
    """SHA-256 over the ``HASHED`` fields (missing ones count as null), with the fingerprint version."""
    return sha256_json({"version": fp.get("version"), **{k: _get(fp, k) for k in HASHED}})


def short(digest: str | None) -> str:
    return (digest or "none")[:16]


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def diff(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Fields whose values differ: ``[{field, a, b, hashed}]``, hashed fields first."""
    fa, fb = flatten(a or {}), flatten(b or {})
    out = []
    for key in sorted(set(fa) | set(fb)):
        if key == "hash" or fa.get(key) == fb.get(key):
            continue
        hashed = any(key == h or key.startswith(h + ".") for h in HASHED)
        out.append({"field": key, "a": fa.get(key), "b": fb.get(key), "hashed": hashed})
    return sorted(out, key=lambda d: (not d["hashed"], d["field"]))


def format_diff(changes: list[dict[str, Any]], a_name: str = "a", b_name: str = "b") -> str:
    """A readable diff: one line per field, ``*`` marking the hashed ones."""
    if not changes:
        return "no differences"
    width = max(len(c["field"]) for c in changes)
    lines = [f"{'':2}{'field':<{width}}  {a_name}  ->  {b_name}   (* counts for the stack hash)"]
    for c in changes:
        lines.append(f"{'*' if c['hashed'] else ' ':2}{c['field']:<{width}}  {c['a']!r}  ->  {c['b']!r}")
    return "\n".join(lines)


def format_fingerprint(fp: dict[str, Any]) -> str:
    """The fingerprint as ``field: value`` lines, hash first."""
    lines = [f"stack hash: {fp['hash']}"]
    for key, value in flatten({k: v for k, v in fp.items() if k != "hash"}).items():
        mark = "*" if any(key == h or key.startswith(h + ".") for h in HASHED) else " "
        lines.append(f"{mark} {key}: {value}")
    lines.append("(* counts for the stack hash)")
    return "\n".join(lines)
