"""Derived observables of validation: the registered quantities whose columns a table has.

The quantities themselves are declared by each source's profile
(:class:`flashgen.sources.registry.Observable`, registry :data:`OBSERVABLES`);
:func:`applicable_observables` picks those whose required columns are available, so the same
validation serves Z→μμ tables, electron tables or any future source.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .registry import (COMPARISON_PAIRS, OBSERVABLES, Observable, applicable, names_of,
                               register_observable)

__all__ = ["COMPARISON_PAIRS", "OBSERVABLES", "Observable", "applicable_observables",
           "register_observable", "wrap_angle"]


def applicable_observables(columns: Iterable[str],
                           names: Sequence[str] | None = None) -> list[Observable]:
    """Registered observables whose required columns are all in ``columns``.

    Arguments:
        columns: available column names.
        names: restrict to these observable names (unknown names raise an error).
    """
    return applicable(names_of(OBSERVABLES, names, "observable"), columns)


def wrap_angle(phi: np.ndarray) -> np.ndarray:
    """Map angles (rad) into [-π, π)."""
    return np.mod(np.asarray(phi, dtype=np.float64) + np.pi, 2.0 * np.pi) - np.pi
