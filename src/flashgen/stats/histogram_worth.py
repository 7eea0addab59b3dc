"""What a generated histogram is worth: inherited uncertainty, effective events, amplification.

A generated sample inherits the statistical fluctuation of the finite training sample its model
learnt from. flashgen measures it with an ensemble whose members come in *resample groups*:
member ``m`` is trained on bootstrap resample ``m // 2`` of the training table with its own seed,
so members ``2b`` and ``2b + 1`` see the same events and differ only in initialisation and batch
order (the default of ``flashgen train --ensemble M``; any grouping works here).

For one bin, let ``f_m`` be the fraction of member ``m``'s events in the bin. Write the member's
prediction as ``f_m = T(D_b) + e_m``: ``T(D_b)`` the (seed-averaged) prediction of a model trained
on resample ``D_b``, and ``e_m`` the optimisation and generation noise of that one training. The
estimator the user reads is the histogram of the pooled sample, ``p = mean_m f_m`` (members
generate equal numbers of events). Its error with respect to the truth has three parts:

- the training sample's own fluctuation, ``Var T(D)``; the bootstrap estimates it by the variance
  ``s_D^2`` of ``T(D_b)`` over resamples (Efron & Tibshirani 1993, ch. 6);
- the Monte Carlo error of averaging only ``B`` resamples, ``s_D^2 * sum_b r_b^2 / M^2``
  (``r_b`` members in group ``b``; ``s_D^2 / B`` for equal groups);
- the optimisation and generation noise, averaged over all ``M`` members: ``s_w^2 / M``.

``s_w^2`` is the pooled within-group variance (members that differ only in seed); the variance
of the group means is ``s_D^2 + s_w^2 <1/r_b>``, so ``s_D^2`` is their difference (floored at 0).
Quoting the raw member spread ``s_D^2 + s_w^2`` instead would count the optimisation noise at
full weight although pooling averages it away: that is why ensemble bands over-covered (0.82-0.83
for flows, ``benchmarks/results/coverage.md``). The 68 % band is ``p ± t σ`` with ``t`` the
Student-t quantile of ``B - 1`` degrees of freedom (``s_D`` comes from ``B`` resamples).

The effective number of events of a bin is ``n_eff = p (1 - p) / σ^2``: that many events sampled
from the truth would estimate the bin as precisely. For the histogram, ``n_eff = sum p(1-p) /
sum σ^2`` matches the mean quantile MSE of sampled events, ``(1 - 1/K) / (K n)`` for ``K``
equal-probability bins (Butter et al. 2021); it sums the per-bin variances, each with its
training-sample part floored at 0 (conservative where optimisation noise dominates). The
amplification is ``G = n_eff / N_train``. The
forecast uses no truth and sees no bias shared by all members; ``benchmarks/bench_worth.py``
checks it against the measured G where the truth is exact.

G and the histogram's n_eff are stated only at binnings of at most :data:`CALIBRATED_BINS` bins,
the finest at which that check held for every training size (camel back, 100 to 10,000 training
events, ``benchmarks/results/worth.md``, "Sparse regime"). At 200 and 1,000 bins the members share
an error (the model's bias in the valley between the humps and in the tails, the same in every
repetition) that dominates the measured error once the training sample's own fluctuation is
small: the forecast G was 1.9-2.6x the measured one with 1,000 and 10,000 training events. Finer
binnings get :attr:`Worth.withheld` (the reason) instead of G; their per-bin band is kept. The
training events per bin were not what failed: with 100 training events the forecast held at 0.5
per bin (K = 200).

References:
    Efron, Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall (1993), ch. 6 and 19.
    Matchev, Roman, Shyamsundar, SciPost Phys. 12 (2022) 104, arXiv:2002.06307.
    Butter, Diefenbacher, Kasieczka, Nachman, Plehn, SciPost Phys. 10 (2021) 139, arXiv:2008.06545.
    Lakshminarayanan, Pritzel, Blundell, "Deep ensembles", NeurIPS 2017, arXiv:1612.01474.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ..errors import FlashgenError

__all__ = ["CALIBRATED_BINS", "LEVEL", "MIN_TRAINING_PER_BIN", "Resolution", "Variance", "Worth", "bin_index",
           "binning", "check_edges", "default_groups", "inherited_variance", "member_fractions", "member_ids",
           "resolution", "round_count", "recorded_ensemble", "withheld_reason", "worth_from_fractions",
           "worth_of_sample"]

LEVEL = 0.68
"""Probability content of the band."""

CALIBRATED_BINS = 50
"""Finest binning, in bins, at which G and the histogram's n_eff are stated: the finest at which
the forecast G was within 25 % of the measured one for 100, 1,000 and 10,000 training events
(benchmarks/results/worth.md, "Sparse regime"; 1.9-2.6x at 200 and 1,000 bins)."""

MIN_TRAINING_PER_BIN = 5.0
"""Fewest expected training events per bin, on average over the bins, at which a worth is stated
without a warning (see :class:`Resolution`)."""


def check_edges(edges: np.ndarray) -> np.ndarray:
    """``edges`` as a float array, refused unless 1D, finite, at least 2 and strictly increasing."""
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2:
        raise FlashgenError(f"need at least 2 bin edges, got {e.size}")
    if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise FlashgenError("bin edges must be finite and strictly increasing, got "
                            + ",".join(f"{v:g}" for v in e[:8]) + (" ..." if len(e) > 8 else ""))
    return e


def default_groups(members: int) -> np.ndarray:
    """Resample group of each member in flashgen's ensembles: member ``m`` -> ``m // 2``."""
    return np.arange(members) // 2


@dataclass(frozen=True)
class Variance:
    """Per-bin variance parts of the pooled estimator (arrays of shape ``(K,)``)."""

    pooled: np.ndarray
    """Fraction of the pooled sample in each bin."""
    training: np.ndarray
    """Inherited from the training sample: ``s_D^2 (1 + sum r_b^2 / M^2)``."""
    noise: np.ndarray
    """Optimisation and generation noise left after pooling: ``s_w^2 / M``."""
    between: np.ndarray
    """``s_D^2``: bootstrap variance of one resample's prediction."""
    within: np.ndarray
    """``s_w^2``: variance of members trained on the same resample."""
    resamples: int
    training_unfloored: np.ndarray
    """:attr:`training` before flooring at 0 (unbiased; its sum over bins gives the histogram's n_eff)."""

    @property
    def total(self) -> np.ndarray:
        return self.training + self.noise


def inherited_variance(fractions: np.ndarray, groups: np.ndarray | None = None) -> Variance:
    """Variance of the pooled histogram from the members' histograms.

    Arguments:
        fractions: fraction of each member's events per bin, shape ``(M, K)``.
        groups: resample group of each member, shape ``(M,)`` (default :func:`default_groups`).
            Needs at least 2 groups and at least one group with 2 or more members.

    Returns:
        The :class:`Variance` parts (see the module docstring).
    """
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 2:
        raise FlashgenError(f"fractions must have shape (members, bins), got {f.shape}")
    m = f.shape[0]
    g = default_groups(m) if groups is None else np.asarray(groups)
    if g.shape != (m,):
        raise FlashgenError(f"need one resample group per member ({m}), got shape {g.shape}")
    ids, inverse, sizes = np.unique(g, return_inverse=True, return_counts=True)
    b = len(ids)
    if b < 2:
        raise FlashgenError(f"the training-sample variance needs members of at least 2 bootstrap "
                            f"resamples, got {b} (an ensemble of at least 4 members)")
    if sizes.max() < 2:
        raise FlashgenError("the optimisation noise needs at least 2 members trained on the same "
                            "resample (flashgen's ensembles pair them: members 2b and 2b+1)")
    means = np.zeros((b, f.shape[1]))
    np.add.at(means, inverse, f)
    means /= sizes[:, None]
    within = ((f - means[inverse]) ** 2).sum(axis=0) / (m - b)
    raw_between = means.var(axis=0, ddof=1) - within * np.mean(1.0 / sizes)
    factor = 1.0 + np.sum(sizes**2) / m**2
    return Variance(f.mean(axis=0), np.maximum(raw_between, 0.0) * factor, within / m,
                    np.maximum(raw_between, 0.0), within, b, raw_between * factor)


@dataclass(frozen=True)
class Worth:
    """The worth of a generated histogram (arrays of shape ``(K,)``; ``edges`` ``(K + 1,)``)."""

    edges: np.ndarray
    fraction: np.ndarray
    sigma: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    n_eff_bins: np.ndarray
    n_eff: float
    amplification: float | None
    train_events: int | None
    generated_events: int
    members: int
    resamples: int
    sigma_training: np.ndarray
    sigma_noise: np.ndarray
    observable: str = ""
    withheld: str | None = None
    """Why G and the histogram's n_eff are not stated at this binning (:func:`withheld_reason`),
    ``None`` where they are; :attr:`amplification` is then ``None`` and :attr:`n_eff` is only the
    variance behind the band."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (an infinite n_eff, from a bin with no spread, becomes ``None``; so do
        ``n_eff`` and ``amplification`` where they are withheld, with the reason in ``withheld``)."""
        def arr(x: np.ndarray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in np.asarray(x, dtype=np.float64)]

        stated = self.withheld is None and np.isfinite(self.n_eff)
        return {"observable": self.observable, "edges": arr(self.edges), "fraction": arr(self.fraction),
                "sigma": arr(self.sigma), "band_low": arr(self.band_low), "band_high": arr(self.band_high),
                "level": LEVEL, "n_eff_bins": arr(self.n_eff_bins),
                "n_eff": float(self.n_eff) if stated else None, "withheld": self.withheld,
                "amplification": self.amplification, "train_events": self.train_events,
                "generated_events": self.generated_events, "members": self.members,
                "resamples": self.resamples, "sigma_training": arr(self.sigma_training),
                "sigma_noise": arr(self.sigma_noise)}


def worth_from_fractions(fractions: np.ndarray, edges: np.ndarray, *, groups: np.ndarray | None = None,
                         train_events: int | None = None, generated_events: int = 0,
                         observable: str = "") -> Worth:
    """:class:`Worth` of the pooled histogram from per-member fractions ``(M, K)``.

    Arguments:
        fractions: fraction of each member's events in each bin (events outside the edges count
            in the denominator), shape ``(M, K)``.
        edges: bin edges, shape ``(K + 1,)``.
        groups: resample group per member (default :func:`default_groups`).
        train_events: size ``N`` of the training sample (gives the amplification ``n_eff / N``).
        generated_events: events behind the histogram (reported only).
        observable: name of the histogrammed quantity (reported only).

    Returns:
        The :class:`Worth`; beyond :data:`CALIBRATED_BINS` bins with :attr:`Worth.withheld` set
        and no amplification.
    """
    edges = check_edges(edges)
    if np.shape(fractions)[-1] != len(edges) - 1:
        raise FlashgenError(f"{np.shape(fractions)[-1]} bins of fractions but {len(edges)} edges")
    var = inherited_variance(fractions, groups)
    p = var.pooled
    total = var.total
    sigma = np.sqrt(total)
    t = float(stats.t.ppf(0.5 + LEVEL / 2, var.resamples - 1))
    spread = p * (1.0 - p)
    # the histogram's n_eff from the per-bin variances floored at 0: conservative where the
    # optimisation noise swamps the training-sample part. The unfloored sum is unbiased for the
    # variance but, with the bias no ensemble sees on top, forecast 1.65x the measured G on the
    # camel back with 1,000 events at K = 50 (benchmarks/results/worth.md), the floored 1.2x.
    hist_var = float(np.sum(total))
    with np.errstate(divide="ignore", invalid="ignore"):
        n_bins = np.where(total > 0, spread / total, np.inf)
        n_eff = float(spread.sum() / hist_var) if hist_var > 0 else float("inf")
    amp = None
    if train_events is not None:
        if train_events < 1:
            raise FlashgenError(f"the number of training events must be positive, got {train_events}")
        amp = n_eff / train_events if np.isfinite(n_eff) else None
    withheld = withheld_reason(len(edges) - 1)
    return Worth(np.asarray(edges, dtype=np.float64), p, sigma, np.maximum(p - t * sigma, 0.0),
                 np.minimum(p + t * sigma, 1.0), n_bins, n_eff, None if withheld else amp, train_events,
                 generated_events, fractions.shape[0], var.resamples, np.sqrt(var.training), np.sqrt(var.noise),
                 observable, withheld)


def withheld_reason(bins: int) -> str | None:
    """Why G and the histogram's n_eff are not stated at ``bins`` bins, ``None`` where they are
    (at most :data:`CALIBRATED_BINS`)."""
    if bins <= CALIBRATED_BINS:
        return None
    return (f"{bins:,} bins are finer than the calibrated range (at most {CALIBRATED_BINS} bins, "
            "benchmarks/results/worth.md): there the members share an error the ensemble cannot see")


def bin_index(values: np.ndarray, edges: np.ndarray, flow: bool = False) -> tuple[np.ndarray, int]:
    """Bin index of each value (-1: no bin) and the number of bins. Bins are ``[e_k, e_k+1)``,
    the last one closed (as :func:`numpy.histogram`); with ``flow``, bin 0 is the underflow
    (values < e_0) and the last the overflow (values > e_K), as
    :func:`flashgen.validation.binning.counts_with_flow`. NaN and ±inf are in no bin."""
    k = len(edges) - 1
    where = np.searchsorted(edges, values, side="right") - 1
    where[values == edges[-1]] = k - 1
    finite = np.isfinite(values)
    if flow:
        return np.where(finite, where + 1, -1), k + 2
    return np.where(finite & (where >= 0) & (where < k), where, -1), k


def member_fractions(values: np.ndarray, member: np.ndarray, edges: np.ndarray,
                     weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-member fraction of events in each bin: ``(member ids (M,), fractions (M, K))``.

    Events outside the edges, and NaN values, count in each member's denominator (a fraction of
    everything the member generated). ``weights`` (e.g. a 0/1 efficiency) weight the numerator
    and denominator alike.
    """
    edges = check_edges(edges)
    values = np.asarray(values, dtype=np.float64)
    member = np.asarray(member)
    if values.shape != member.shape or values.ndim != 1:
        raise FlashgenError(f"values and member must be 1D of equal length, got {values.shape} and {member.shape}")
    w = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    ids, inverse = np.unique(member, return_inverse=True)
    where, k = bin_index(values, edges)
    inside = where >= 0
    counts = np.zeros((len(ids), k))
    np.add.at(counts, (inverse[inside], where[inside]), w[inside])
    totals = np.bincount(inverse, weights=w, minlength=len(ids))
    return ids, counts / np.maximum(totals, 1e-300)[:, None]


def member_ids(member: np.ndarray) -> np.ndarray:
    """The ensemble member of each event as integers: an integer column as it is, a float column
    whose values are all whole numbers as ``int64``; anything else is refused (one line)."""
    m = np.asarray(member)
    if m.dtype.kind in "iu":
        return m
    if m.dtype.kind == "f":
        whole = np.isfinite(m) & (m == np.round(m))
        if whole.all():
            return m.astype(np.int64)
        bad = m[~whole][0]
        raise FlashgenError(f"the 'member' column must hold integers (the ensemble member of each event, "
                            f"as flashgen generate writes it); it holds {m.dtype} values such as {bad:g}")
    raise FlashgenError(f"the 'member' column must hold integers (the ensemble member of each event, "
                        f"as flashgen generate writes it); it holds {m.dtype} values")


def worth_of_sample(values: np.ndarray, member: np.ndarray, edges: np.ndarray, *,
                    train_events: int | None = None, observable: str = "",
                    groups: Sequence[int] | None = None) -> Worth:
    """:class:`Worth` of the histogram of ``values`` (shape ``(n,)``) generated by an ensemble
    whose member of each event is ``member`` (integers).

    Arguments:
        groups: resample group of member ``m`` at index ``m`` (as recorded by
            :func:`recorded_ensemble`); default :func:`default_groups` (``m // 2``).
    """
    ids, fractions = member_fractions(values, member_ids(member), edges)
    known = default_groups(int(ids.max()) + 1) if groups is None else np.asarray(groups)
    if ids.min() < 0 or ids.max() >= len(known):
        raise FlashgenError(f"'member' holds values outside 0..{len(known) - 1}, the recorded ensemble")
    return worth_from_fractions(fractions, edges, groups=known[ids], train_events=train_events,
                                generated_events=len(values), observable=observable)


def recorded_ensemble(meta: Mapping[str, Any]) -> tuple[int | None, list[int] | None]:
    """``(training events, resample group per member)`` that ``flashgen generate`` recorded in a
    generated table's metadata (:func:`flashgen.generation.metadata`); ``None`` where absent."""
    model = meta.get("model")
    model = model if isinstance(model, Mapping) else {}
    info = model.get("ensemble") if isinstance(model.get("ensemble"), Mapping) else {}
    return info.get("train_events") or model.get("train_events"), info.get("groups")


def observable_values(table: Any, name: str) -> tuple[np.ndarray, str]:
    """Values of ``name`` in ``table``: a column, or a registered derived observable
    (:data:`flashgen.sources.observables.OBSERVABLES`, e.g. ``mll``) whose columns it has.

    Returns:
        ``(values (n,), unit)``.
    """
    from ..sources.observables import OBSERVABLES, applicable_observables

    if name in table.names:
        return np.asarray(table[name], dtype=np.float64), table.columns[name].unit if name in table.columns else ""
    if name in OBSERVABLES:
        if not applicable_observables(table.names, [name]):
            need = ", ".join(c for c in OBSERVABLES[name].requires if c not in table.names)
            raise FlashgenError(f"observable '{name}' needs column(s) {need}, which the table lacks")
        return OBSERVABLES[name](table), OBSERVABLES[name].unit
    derived = [o.name for o in applicable_observables(table.names)]
    raise FlashgenError(f"unknown observable '{name}': not a column of the table"
                        + (f" nor a derived quantity it supports ({', '.join(derived)})" if derived else ""))


def equal_population_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """``bins`` bins with equal numbers of the finite ``values`` (quantile edges, duplicates
    merged); the outermost edges are the smallest and largest value."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if bins < 2:
        raise FlashgenError(f"need at least 2 bins, got {bins}")
    if len(v) < bins:
        raise FlashgenError(f"{len(v)} finite value(s) cannot fill {bins} equal-population bins")
    edges = np.unique(np.quantile(v, np.linspace(0.0, 1.0, bins + 1)))
    if len(edges) < 3:
        raise FlashgenError("the observable takes too few distinct values for equal-population bins; give --edges")
    return edges


def describe(worth: Worth, unit: str = "", at: str = "") -> str:
    """One line: what the generated events are worth in this observable (at the binning ``at``,
    e.g. :attr:`Resolution.text`), or, where that is withheld, that G is not stated (the reason is
    :attr:`Worth.withheld`)."""
    what = f"{worth.observable}" + (f" [{unit}]" if unit else "")
    where = f" at {at}" if at else ""
    if worth.withheld:
        return f"{worth.generated_events:,} generated events in {what}: G not stated{where}"
    line = (f"{worth.generated_events:,} generated events are worth ≈ {round_count(worth.n_eff):,} simulated "
            f"events in {what}")
    if worth.amplification is not None and worth.train_events:
        line += f" (G = {worth.amplification:.2g} over {worth.train_events:,} training events)"
    return line + where


@dataclass(frozen=True)
class Resolution:
    """The binning a worth statement holds at, and how many training events its bins hold.

    G depends on the binning: the same events are worth more, relative to the training sample, in
    fine bins than in coarse ones, and in bins that hold only a few training events the bootstrap
    no longer sees the training sample's fluctuation (a resample of ``n`` events cannot fluctuate
    as the truth does where ``n`` is 0 or 1), so G there grows without meaning. The training
    events of a bin are expected from the pooled generated fraction: ``p_k * N_train``. A bin is
    *sparse* when it is populated (``p_k > 0``) and that is fewer than the ensemble's members; the
    statement is *not reliable* when any bin is sparse or the bins hold fewer than
    :data:`MIN_TRAINING_PER_BIN` training events on average. Beyond :data:`CALIBRATED_BINS` bins G
    is not stated at all (:attr:`withheld`).
    """

    bins: int
    low: float
    high: float
    unit: str
    chosen: str
    """How the edges were chosen: ``"equal-population"`` (of the generated sample) or ``"edges"`` (given)."""
    text: str
    """e.g. ``20 equal-population bins of mll in [50, 150] GeV``."""
    members: int
    empty_bins: int
    """Bins with no generated event."""
    mean_training_events_per_bin: float | None
    """``N_train * sum p / K`` (``None`` without the training size)."""
    min_training_events_per_bin: float | None
    """Smallest ``p_k * N_train`` over the populated bins."""
    sparse_bins: int | None
    """Populated bins expected to hold fewer training events than the ensemble has members."""
    withheld: str | None = None
    """Why G is not stated at this binning (:attr:`Worth.withheld`), ``None`` where it is."""

    @property
    def reliable(self) -> bool | None:
        """``False`` when G is withheld or the bins are too sparse for it to mean anything; ``None``
        otherwise without ``N_train``."""
        if self.withheld:
            return False
        if self.sparse_bins is None or self.mean_training_events_per_bin is None:
            return None
        return self.sparse_bins == 0 and not self._few_on_average

    @property
    def _few_on_average(self) -> bool:
        mean = self.mean_training_events_per_bin
        return mean is not None and mean < MIN_TRAINING_PER_BIN * (1 - 1e-9)

    def warning(self, amplification: float | None = None) -> str | None:
        """One line saying why G at this binning is not stated or not reliable (``None`` when it is
        or that is unknown)."""
        if self.withheld:
            return f"at {self.text}, G is not stated: {self.withheld}"
        if self.reliable is not False:
            return None
        assert self.mean_training_events_per_bin is not None and self.sparse_bins is not None
        why = []
        if self._few_on_average:
            why.append(f"the bins hold {self.mean_training_events_per_bin:.2g} training events on average "
                       f"(fewer than {MIN_TRAINING_PER_BIN:g})")
        if self.sparse_bins:
            populated = self.bins - self.empty_bins
            verb = "holds" if self.sparse_bins == 1 else "hold"
            why.append(f"{self.sparse_bins:,} of {populated:,} populated bins {verb} fewer training events than "
                       f"the ensemble's {self.members} members (fewest {self.min_training_events_per_bin:.2g})")
        g = f"G = {amplification:.2g}" if amplification is not None else "G"
        return (f"at {self.text}, " + " and ".join(why) + f": {g} there is not reliable; "
                "state the worth at fewer, wider bins")

    def to_json(self) -> dict[str, Any]:
        """The binning (``bins``, ``low``, ``high``, ``unit``, ``chosen``, ``text``)."""
        return {"bins": self.bins, "low": self.low, "high": self.high, "unit": self.unit, "chosen": self.chosen,
                "text": self.text}

    def sparsity(self) -> dict[str, Any]:
        """How many training events the bins hold (``sparse_bins``, ``empty_bins``, the mean and
        smallest expected training events per bin, ``reliable``) and why G is not stated there
        (``withheld``, ``None`` where it is)."""
        return {"sparse_bins": self.sparse_bins, "empty_bins": self.empty_bins,
                "mean_training_events_per_bin": self.mean_training_events_per_bin,
                "min_training_events_per_bin": self.min_training_events_per_bin, "reliable": self.reliable,
                "withheld": self.withheld}


def binning(edges: np.ndarray, observable: str, *, unit: str = "", chosen: str = "edges") -> dict[str, Any]:
    """The binning a statement holds at, as JSON: ``bins``, ``low``, ``high``, ``unit``, ``chosen``
    (``"equal-population"``: quantiles of the generated sample; ``"edges"``: given) and ``text``,
    e.g. ``20 equal-population bins of mll in [50, 150] GeV``."""
    if chosen not in ("equal-population", "edges"):
        raise FlashgenError(f"unknown binning choice '{chosen}'; use equal-population or edges")
    e = check_edges(edges)
    k, low, high = len(e) - 1, float(e[0]), float(e[-1])
    what = "equal-population bins" if chosen == "equal-population" else "bins"
    text = (f"{k:,} {what} of {observable or 'the observable'} in [{low:.4g}, {high:.4g}]"
            + (f" {unit}" if unit else "") + (" (given edges)" if chosen == "edges" else ""))
    return {"bins": k, "low": low, "high": high, "unit": unit, "chosen": chosen, "text": text}


def resolution(worth: Worth, *, unit: str = "", chosen: str = "edges") -> Resolution:
    """The :class:`Resolution` of ``worth``: its binning in words and the expected training events
    of its bins (from the pooled fractions and ``worth.train_events``).

    Arguments:
        unit: the observable's unit (for the text).
        chosen: ``"equal-population"`` (edges from the generated sample's quantiles) or ``"edges"``.
    """
    b = binning(worth.edges, worth.observable, unit=unit, chosen=chosen)
    k = b["bins"]
    p = np.asarray(worth.fraction, dtype=np.float64)
    populated = p > 0
    mean = least = sparse = None
    if worth.train_events:
        expected = p * worth.train_events
        mean = float(expected.sum() / k)
        least = float(expected[populated].min()) if populated.any() else None
        # a relative tolerance: equal-population bins of N = K * M events hold M each, not 3.99999
        sparse = int(np.count_nonzero(populated & (expected < worth.members * (1 - 1e-9))))
    return Resolution(k, b["low"], b["high"], unit, chosen, b["text"], worth.members, int(np.count_nonzero(~populated)),
                      mean, least, sparse, worth.withheld)


def round_count(x: float) -> int:
    """``x`` to two significant digits (an n_eff is not known better)."""
    if not np.isfinite(x) or x <= 0:
        return 0
    digits = max(int(np.floor(np.log10(x))) - 1, 0)
    return int(round(x, -digits))


def pyhf_sample(worth: Worth, *, name: str = "generated", events: float | None = None,
                modifier: str = "shapesys") -> dict[str, Any]:
    """The histogram as a pyhf sample: counts ``fraction * events`` with a per-bin ``shapesys``
    (or ``staterror``) modifier of absolute size ``sigma * events`` carrying the inherited
    uncertainty, and a free ``normfactor`` ``mu_<name>``.

    Arguments:
        events: expected events of the sample (default: the generated events behind it).
        modifier: ``"shapesys"`` (uncorrelated per bin, Poisson-constrained) or ``"staterror"``
            (pyhf's MC-statistics modifier, Gaussian, combined over the channel's samples).
    """
    if modifier not in ("shapesys", "staterror"):
        raise FlashgenError(f"unknown pyhf modifier '{modifier}'; use shapesys or staterror")
    scale = float(worth.generated_events if events is None else events)
    counts = [float(x) for x in worth.fraction * scale]
    errors = [float(x) for x in worth.sigma * scale]
    return {"name": name, "data": counts,
            "modifiers": [{"name": f"mu_{name}", "type": "normfactor", "data": None},
                          {"name": f"inherited_{name}", "type": modifier, "data": errors}]}
