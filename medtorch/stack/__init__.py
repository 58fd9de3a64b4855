"""The software and hardware stack a model runs on, and bridge re-evaluation across stacks.

- ``fingerprint``: what the stack is (Python, OS, CPU and its instruction sets, threads,
  torch build, CUDA/cuDNN/GPU, package versions, numeric settings), its hash and a diff;
- ``settings``: the inference settings (threads, dtype) and the run's numeric settings,
  applied before a model is used, so that they are part of the fingerprint;
- ``reference``: the bridge set stored when a run finishes validation;
- ``bridge``: re-running preprocessing and inference on the bridge set and comparing;
- ``gate``: the automatic bridge that the verbs using a model (predict, evaluate, explain, monitor) ask for;
- ``compare``: runs side by side.
"""
