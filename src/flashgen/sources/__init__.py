"""Reference simulators: the slow (or exact) truth that models learn from.

- :mod:`~flashgen.sources.toys`: camel back, ring and n-dimensional shell with exact densities.
- :mod:`~flashgen.sources.electron`: single-electron detector response with exact efficiency
  and response CDF.
- :mod:`~flashgen.sources.zmumu`: PYTHIA8 Drell-Yan Z→μμ with pileup and a parametric detector.
"""
