"""flashgen: fast generative surrogates for particle-physics simulation, with honest statistics.

Data flows one way: ``sources`` write event tables (and declare, in their profiles, what flashgen
knows about them: columns, derived quantities, presets, validation slicings, exact truths),
``transforms`` + ``models`` are fitted to a table by ``training`` and saved as one model file,
``generation`` samples it into a new table, ``validation`` compares two tables and ``stats`` says
what a generated sample is worth.

Shared machinery is written once: ``data`` (tables, splits, I/O), ``files`` (path checks,
atomic writes, JSON), ``seeds`` (seed derivation), ``manifest`` (resumable jobs). Models and
sources register themselves by name (``flashgen.models.MODELS``, ``flashgen.sources.PROFILES``);
every list of them is derived from those registries.

For notebooks, :mod:`flashgen.api` (imported on first use, so that ``import flashgen`` stays
light): ``flashgen.load(path)`` gives a model whose ``.sample(n, seed=...)`` returns a pandas
DataFrame, ``flashgen.validate(reference, generated)`` the verdict and its numbers,
``flashgen.worth(generated, observable, bins)`` what an ensemble's sample is worth, with a
``hist.Hist`` of the inherited uncertainty (docs/python.md).
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

from .data import Column, EventTable, read_table, write_table
from .errors import FlashgenError

_LAZY = {"load": "api", "validate": "api", "worth": "api", "Surrogate": "api", "ValidationResult": "api",
         "WorthResult": "api"}
"""Public names imported from their module on first use (torch, scikit-learn, scipy load then)."""

__all__ = ["Column", "EventTable", "FlashgenError", "Surrogate", "ValidationResult", "WorthResult", "__version__",
           "load", "read_table", "validate", "worth", "write_table"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups find it directly
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
