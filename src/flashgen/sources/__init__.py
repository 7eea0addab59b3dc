"""Reference simulators: the slow (or exact) truth that models learn from, and what flashgen
knows about each of them (its *profile*, :mod:`flashgen.sources.registry`).

- :mod:`~flashgen.sources.toys`: camel back, ring and n-dimensional shell with exact densities.
- :mod:`~flashgen.sources.electron`: single-electron detector response with exact efficiency
  and response CDF.
- :mod:`~flashgen.sources.zmumu`: PYTHIA8 Drell-Yan Z→μμ with pileup and a parametric detector.

Importing this package registers every source's profile: each module or folder here is
imported, and registers its :class:`~flashgen.sources.registry.Profile` when it is. A new source
is one module or folder here (plus its tests).
"""

import importlib
import pkgutil

from . import registry
from .registry import PROFILES, Profile

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f".{_module.name}", __name__)

__all__ = ["PROFILES", "Profile", "registry"]
