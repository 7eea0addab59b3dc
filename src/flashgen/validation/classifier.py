"""Classifier two-sample test: can a boosted decision tree tell generated from reference events?

A gradient-boosted classifier (scikit-learn ``HistGradientBoostingClassifier``) is trained on
half of the events to separate the two samples and scored on the other half by the ROC AUC:
0.5 means the samples are indistinguishable, 1 means fully separable. The classes are balanced
first by subsampling the larger one, so that the AUC does not depend on the sample-size ratio.

Under the hypothesis that both samples come from one distribution the held-out AUC is the
Mann-Whitney statistic of scores independent of the labels, with mean 0.5 and standard deviation
``sqrt((n0 + n1 + 1) / (12 n0 n1))`` exactly (the Hanley-McNeil error at AUC = 0.5).

References:
    Lopez-Paz, Oquab, "Revisiting classifier two-sample tests", ICLR 2017, arXiv:1610.06545.
    Hanley, McNeil, "The meaning and use of the area under a ROC curve", Radiology 143 (1982) 29.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import FlashgenError

__all__ = ["ClassifierResult", "RepeatedClassifier", "auc_null_std", "classifier_two_sample_test",
           "hanley_mcneil_error", "repeated_classifier_test"]

MIN_EVENTS_PER_CLASS = 50


def hanley_mcneil_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of a ROC AUC from ``n_pos`` positive and ``n_neg`` negative test events.

    ``SE² = (A(1-A) + (n_pos-1)(Q1-A²) + (n_neg-1)(Q2-A²)) / (n_pos n_neg)`` with
    ``Q1 = A/(2-A)`` and ``Q2 = 2A²/(1+A)`` (Hanley & McNeil 1982).
    """
    a = float(auc)
    if n_pos < 1 or n_neg < 1:
        raise FlashgenError("the AUC error needs at least one event of each class")
    q1 = a / (2.0 - a)
    q2 = 2.0 * a * a / (1.0 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


def auc_null_std(n_pos: int, n_neg: int) -> float:
    """Standard deviation of the held-out AUC when both classes share one distribution."""
    return float(np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)))


@dataclass(frozen=True)
class ClassifierResult:
    """Outcome of :func:`classifier_two_sample_test`.

    Attributes:
        auc: ROC AUC on held-out events (generated = positive class).
        auc_err: its Hanley-McNeil standard error.
        null_std: standard deviation of the AUC for a perfect generator at these test sizes.
        significance: ``(auc - 0.5) / null_std``.
        n_train, n_test: events per class used to train and to test.
        balanced: how the classes were balanced, e.g. ``"generated subsampled 200000 -> 100000"``.
        n_iter: boosting iterations run (early stopping on a validation split of the training set).
        features: input columns, in order.
    """

    auc: float
    auc_err: float
    null_std: float
    significance: float
    n_train: int
    n_test: int
    balanced: str
    n_iter: int
    features: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = list(self.features)
        return d


def classifier_two_sample_test(reference: np.ndarray, generated: np.ndarray, *,
                               features: tuple[str, ...] | list[str] | None = None,
                               test_fraction: float = 0.5, max_iter: int = 100,
                               seed: int = 0) -> ClassifierResult:
    """Train a boosted classifier to separate two samples and score it on held-out events.

    Arguments:
        reference, generated: samples of shape ``(n_ref, n_features)`` and
            ``(n_gen, n_features)``; NaN is allowed (the trees route it on its own branch).
        features: names of the columns, for the record.
        test_fraction: fraction of the balanced events held out for the AUC.
        max_iter: largest number of boosting iterations (early stopping picks fewer).
        seed: seed of the subsampling, the split and the classifier.

    Returns:
        A :class:`ClassifierResult`.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    r = np.asarray(reference, dtype=np.float64)
    g = np.asarray(generated, dtype=np.float64)
    if r.ndim != 2 or g.ndim != 2 or r.shape[1] != g.shape[1]:
        raise FlashgenError(f"samples must be (n_events, n_features) alike, got {r.shape} and {g.shape}")
    if not 0.0 < test_fraction < 1.0:
        raise FlashgenError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    n = min(len(r), len(g))
    if n < MIN_EVENTS_PER_CLASS:
        raise FlashgenError(f"the classifier test needs at least {MIN_EVENTS_PER_CLASS} events per "
                            f"sample, got {len(r)} reference and {len(g)} generated")
    balanced = "none (equal sizes)"
    if len(r) > n:
        r = r[rng.choice(len(r), n, replace=False)]
        balanced = f"reference subsampled {len(reference)} -> {n}"
    elif len(g) > n:
        g = g[rng.choice(len(g), n, replace=False)]
        balanced = f"generated subsampled {len(generated)} -> {n}"
    n_test = max(int(round(n * test_fraction)), 1)
    n_train = n - n_test
    perm_r, perm_g = rng.permutation(n), rng.permutation(n)
    x_train = np.concatenate([r[perm_r[:n_train]], g[perm_g[:n_train]]])
    y_train = np.concatenate([np.zeros(n_train), np.ones(n_train)])
    x_test = np.concatenate([r[perm_r[n_train:]], g[perm_g[n_train:]]])
    y_test = np.concatenate([np.zeros(n_test), np.ones(n_test)])
    clf = HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=31, early_stopping=True,
        validation_fraction=0.15, n_iter_no_change=10,
        random_state=int(rng.integers(0, 2**31 - 1)))
    # one thread: OpenMP threads stall badly on a shared CPU, and one is as fast at these sizes
    with threadpool_limits(1):
        clf.fit(x_train, y_train)
        score = clf.predict_proba(x_test)[:, 1]
    auc = float(roc_auc_score(y_test, score))
    null_std = auc_null_std(n_test, n_test)
    names = tuple(features) if features is not None else tuple(f"x{j}" for j in range(r.shape[1]))
    return ClassifierResult(
        auc=auc, auc_err=hanley_mcneil_error(auc, n_test, n_test), null_std=null_std,
        significance=(auc - 0.5) / null_std, n_train=n_train, n_test=n_test, balanced=balanced,
        n_iter=int(clf.n_iter_), features=names)


@dataclass(frozen=True)
class RepeatedClassifier:
    """The classifier test repeated with independent seeds (subsample, split, classifier).

    Attributes:
        first: the first training's full result.
        aucs: held-out AUC of every training, shape ``(repeats,)``.
    """

    first: ClassifierResult
    aucs: np.ndarray

    @property
    def mean(self) -> float:
        """Mean AUC over the trainings (the reported value)."""
        return float(self.aucs.mean())

    @property
    def spread(self) -> float:
        """Standard deviation of the AUC over the trainings (0 for one training)."""
        return float(self.aucs.std(ddof=1)) if self.aucs.size > 1 else 0.0


def repeated_classifier_test(reference: np.ndarray, generated: np.ndarray, *, repeats: int = 5,
                             features: tuple[str, ...] | list[str] | None = None,
                             seed: int = 0) -> RepeatedClassifier:
    """:func:`classifier_two_sample_test` ``repeats`` times with independent seeds.

    The spread over trainings is what the CaloChallenge reports with its AUCs (Krause et al.,
    arXiv:2410.21611): one split's AUC moves with the split and the classifier's seed by about
    its statistical error. The mean over repeats reuses the same events, so its null spread is
    smaller than ``null_std`` but not by ``sqrt(repeats)``; the checks keep ``null_std``.
    """
    if repeats < 1:
        raise FlashgenError(f"the classifier test needs repeats >= 1, got {repeats}")
    seeds = np.random.SeedSequence(seed).generate_state(repeats)
    runs = [classifier_two_sample_test(reference, generated, features=features, seed=int(s))
            for s in seeds]
    return RepeatedClassifier(runs[0], np.array([r.auc for r in runs]))
