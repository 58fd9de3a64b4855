"""medtorch's version, in a module that imports nothing.

Modules inside medtorch read it from here, not from the package: ``medtorch/__init__.py`` imports
``medtorch.api`` on first use of ``medtorch.train``, so an import of the package from a module the
API reaches would close an import cycle (``tests/test_import_graph.py``).
"""

__version__ = "0.1.0"
