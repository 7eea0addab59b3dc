"""Training health: garbage never passes as a model file.

After training, :func:`check_health` judges the selected snapshot and raises
:class:`UnhealthyModel` (a :class:`~flashgen.errors.FlashgenError`, one line: what, and the fix)
instead of letting the model be written. The checks only accept or refuse: they draw their own
seeded samples and never change a weight. A model is refused when

- its KS selection score is near the worst possible: the mean KS statistic per selection
  quantity is at least :data:`WORST_MEAN_KS` (generated and held-out samples barely overlap;
  a KS statistic is at most 1);
- it is stuck: no snapshot scored better than the first while there were at least
  :data:`PROGRESS_SNAPSHOTS` snapshots to improve on it, in a run of at least
  :data:`JUDGED_STEPS` steps, *and* its mean KS per quantity is at least :data:`STUCK_MEAN_KS`.
  No progress alone is no failure: a model that converges before its first snapshot keeps it
  (measured: a member of the main job's Z→μμ ensemble kept its first of 12 snapshots, KS sum
  0.079 over its selection quantities — a healthy model);
- its loss diverged to finite values: for a model with a loss (a likelihood, e.g. a flow's
  negative log-likelihood per event), the selected snapshot's loss on (up to 10,000 of) its
  training events exceeds the untrained network's by more than :data:`DIVERGED_LOSS`. A loss that
  rose on held-out events while it fell on the training events is overfitting, not divergence:
  it is recorded (``held_out_loss_*``), not refused. Measured on the main job's ensemble: its
  bootstrap members, trained on resamples with repeated events, end with an out-of-bag NLL
  within about ±1.5 nats of the untrained network's (seed 1, member 0: 28.3 against 26.9, kept
  step 3,000; through zuko's density 27.0, kept step 2,500), while their samples pass every
  check of the validation; judged on the held-out loss, such a member was refused at random;
- more than :data:`SUPPORT_LIMIT` of the values it generates on the held-out selection sample
  lie beyond the training range of their feature widened by
  :data:`~flashgen.models.flashmodel.SUPPORT_MARGIN` of the range on each side, in a run of at
  least :data:`JUDGED_STEPS` steps (shorter runs are smoke tests whose tails have not settled;
  the fraction is recorded either way).

The thresholds sit far from healthy models: measured on the repository's presets at their
test sizes, healthy models score a mean KS of at most ~0.3, have a loss well below the
untrained one on their training events and generate well under 1 % of values beyond the
widened range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import FlashgenError
from ..models.flashmodel import SUPPORT_MARGIN, support_bounds

__all__ = ["DIVERGED_LOSS", "JUDGED_STEPS", "PROGRESS_SNAPSHOTS", "STUCK_MEAN_KS", "SUPPORT_LIMIT", "WORST_MEAN_KS",
           "UnhealthyModel",
           "check_health", "outside_fraction", "training_support"]

WORST_MEAN_KS = 0.9
"""Refuse a model whose selected snapshot's mean KS statistic per selection quantity is at
least this (1 is the worst: no overlap). Healthy presets score well below 0.5."""
PROGRESS_SNAPSHOTS = 3
"""Scored snapshots needed before "no snapshot improved on the first" counts."""
STUCK_MEAN_KS = 0.5
"""A model that never improved on its first snapshot is refused only when its mean KS per
quantity is at least this (samples that differ grossly)."""
DIVERGED_LOSS = 1.0
"""Refuse a model whose selected loss on its training events exceeds the untrained network's by
more than this (in the loss's units: nats per event for a flow's negative log-likelihood)."""
SUPPORT_LIMIT = 0.05
"""Refuse a model that generates more than this fraction of feature values beyond the training
range widened by :data:`~flashgen.models.flashmodel.SUPPORT_MARGIN`."""
JUDGED_STEPS = 200
"""Training steps from which the support limit and the progress check are enforced (shorter
runs are smoke tests; measured: a 30-step flow on 300 camel-back events puts 12.7 % of its values
beyond the widened range, a 30-step GAN's first of 3 snapshots can be its best)."""
FIX = "another --seed, a smaller learning rate (--set lr=...) or more --steps"


class UnhealthyModel(FlashgenError):
    """A trained model failed its health check (see :func:`check_health`)."""


def training_support(columns: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    """``{column: [min, max]}`` of the finite values of each column."""
    support = {}
    for name, values in columns.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v):
            support[name] = [float(v.min()), float(v.max())]
    return support


def outside_fraction(generated: Mapping[str, np.ndarray], support: Mapping[str, Sequence[float]],
                     margin: float = SUPPORT_MARGIN) -> float:
    """Fraction of the (finite) generated values of the support's columns beyond the widened
    training range (non-finite values count as beyond)."""
    bounds = support_bounds(dict(support), margin)
    outside = total = 0
    for name, (lo, hi) in bounds.items():
        if name not in generated:
            continue
        v = np.asarray(generated[name], dtype=np.float64)
        outside += int(np.count_nonzero(~((v >= lo) & (v <= hi))))
        total += len(v)
    return outside / total if total else 0.0


def check_health(health: Mapping[str, Any]) -> None:
    """Raise :class:`UnhealthyModel` when the measured ``health`` (what :func:`flashgen.training.train`
    records in ``info["health"]``) fails one of the checks of this module."""
    problems = []
    mean_ks = health.get("mean_ks")
    if mean_ks is not None and mean_ks >= WORST_MEAN_KS:
        problems.append(f"its samples barely overlap the held-out events (mean KS {mean_ks:.3f} per "
                        f"quantity, limit {WORST_MEAN_KS})")
    scores = [s for s in health.get("scores", []) if s is not None]
    judged = health.get("steps", JUDGED_STEPS) >= JUDGED_STEPS
    stuck = len(scores) >= PROGRESS_SNAPSHOTS and min(scores[1:]) >= scores[0]
    if judged and stuck and mean_ks is not None and WORST_MEAN_KS > mean_ks >= STUCK_MEAN_KS:
        problems.append(f"it made no progress: no snapshot improved on the first in {len(scores)} "
                        f"(mean KS {mean_ks:.3f} per quantity, limit {STUCK_MEAN_KS})")
    start, end = health.get("loss_untrained"), health.get("loss_selected")
    if start is not None and end is not None and not end <= start + DIVERGED_LOSS:
        problems.append(f"its loss diverged ({end:.4g} on its training events, untrained {start:.4g})")
    outside = health.get("outside")
    if outside is not None and outside > SUPPORT_LIMIT and judged:
        problems.append(f"{outside:.1%} of its generated values lie beyond the training range "
                        f"(+{SUPPORT_MARGIN:.0%} margin; limit {SUPPORT_LIMIT:.0%})")
    if problems:
        raise UnhealthyModel(f"training failed: {'; '.join(problems)}; no model written; try {FIX}")
