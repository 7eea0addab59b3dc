"""Studies where the truth is exact: they train many models and measure flashgen's statistics.

- :mod:`~flashgen.studies.amplification`: the amplification study (``flashgen amplify``);
  :mod:`~flashgen.studies.amplification_report` its tables and plot.
- :mod:`~flashgen.studies.trainers`: picklable trainers (KDE, flashgen models, perfect and
  empirical generators) that the studies fan out.
- :mod:`~flashgen.studies.truth_fit`: maximum-likelihood fits of the toys' true functional forms
  (the amplification study's ceiling).
- :mod:`~flashgen.studies.calibration`: coverage and forecast of the worth statement
  (:mod:`flashgen.stats.histogram_worth`) where the truth is exact.
- :mod:`~flashgen.studies.bands`, :mod:`~flashgen.studies.coverage`: per-bin quantile bands of
  member histograms and their coverage.
- :mod:`~flashgen.studies.estimators`: robust peak position and width of a 1D sample
  (half-sample mode, σ_eff) for the benchmarks.

Only ``flashgen amplify`` and the scripts in ``benchmarks/`` use this package; nothing in the
generation or validation chain imports it.
"""

from __future__ import annotations

from ..extras import lazy_attributes

_WHERE = {
    "AmplificationResult": "amplification", "amplification_study": "amplification",
    "Band": "bands", "band_coverage": "bands", "histogram_band": "bands", "table_band": "bands",
    "half_sample_mode": "estimators", "sigma_eff": "estimators",
}

__all__ = sorted(_WHERE)

__getattr__ = lazy_attributes(__name__, _WHERE)  # submodules imported on first use
