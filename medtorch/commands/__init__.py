"""One module per ``medtorch`` verb: ``add_arguments(parser)`` and ``run(args) -> int``.

Keep module-level imports light (no torch, Lightning, Captum, matplotlib); import them
inside ``run``.
"""
