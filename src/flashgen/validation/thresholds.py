"""How a validation metric is judged: its tolerance, its statistical resolution and the verdict.

Each checked metric is "larger is worse" and is judged against two numbers:

- its **tolerance** (declared with the metric in :mod:`.metric_defs`, collected in
  :data:`~.metric_registry.THRESHOLDS`): how large a difference we accept from a generator;
- its **statistical resolution** (``noise``): the largest value a *perfect* generator would
  plausibly score at these sample sizes, from the metric's values over reference-vs-reference
  comparisons (bootstrap resamples of the reference with the two sample sizes):
  ``max(mean + 4 std, 3 mean, largest value)``, or analytic where known (classifier AUC).
  Distances such as KS and W1 have right-skewed null distributions whose 99.9 % quantile is
  about 2.2 times their mean; the mean is known far better from a few repeats than the spread,
  hence the ``3 mean`` floor. A χ²/ndf's noise is at least its analytic 4σ quantile
  (:func:`~.compare.chi2_ndf_noise`), which a few bootstrap repeats underestimate at small ndf.
  When the generated sample is an ensemble's, its KS, W1 and defined-fraction noise also
  includes the uncertainty inherited from the training sample (the sample counts as its
  effective number of events, :func:`~.compare.inherited_noise_factor`); its χ² includes it
  bin by bin.

The verdict:

=========== ============================================ ==============================
status      condition                                    meaning
=========== ============================================ ==============================
pass        value <= tolerance and value <= noise        indistinguishable from perfect
warn        value <= tolerance and value >  noise        significant but small difference
fail        value >  tolerance and value >  noise        clearly beyond the tolerance
limited     value >  tolerance and value <= noise        samples too small to tell
unavailable value is NaN                                 could not be computed
=========== ============================================ ==============================

So a metric fails only when it is clearly beyond what noise can produce. A metric that could not
be computed (NaN, e.g. a Fréchet distance without enough complete events) is ``unavailable``:
neither a pass nor a sample-size limitation, and the report says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NOISE_MEAN_FACTOR", "NOISE_SIGMAS", "STATUSES", "Threshold", "judge", "noise_level"]


@dataclass(frozen=True)
class Threshold:
    """Tolerance of one metric: ``limit`` in the metric's own unit, with what it means."""

    metric: str
    limit: float
    description: str


NOISE_SIGMAS = 4.0
"""Beyond the statistical resolution: above ``null mean + NOISE_SIGMAS * null std`` ..."""

NOISE_MEAN_FACTOR = 3.0
"""... and above ``NOISE_MEAN_FACTOR * null mean`` (and the largest null value)."""

STATUSES = ("pass", "warn", "limited", "fail", "unavailable")


def noise_level(null_values: np.ndarray) -> tuple[float, float, float]:
    """``(mean, std, noise)`` of a metric's values for a perfect generator.

    ``noise = max(mean + NOISE_SIGMAS * std, NOISE_MEAN_FACTOR * mean, max(values))``; NaN
    entries are ignored.
    """
    v = np.asarray(null_values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return mean, std, max(mean + NOISE_SIGMAS * std, NOISE_MEAN_FACTOR * mean, float(v.max()))


def judge(value: float, limit: float, noise: float) -> str:
    """Status of a "larger is worse" metric: ``pass``, ``warn``, ``limited``, ``fail`` or
    ``unavailable``.

    With an unknown noise level (NaN) the value is judged by the tolerance alone (``pass`` or
    ``fail``). A NaN value (the metric could not be computed) is ``unavailable``, never a pass;
    an infinite one is ``limited`` (e.g. W1/σ of a constant reference).
    """
    if np.isnan(value):
        return "unavailable"
    if not np.isfinite(value):
        return "limited"
    if not np.isfinite(noise):
        return "pass" if value <= limit else "fail"
    beyond_noise = value > noise
    if value <= limit:
        return "warn" if beyond_noise else "pass"
    return "fail" if beyond_noise else "limited"
