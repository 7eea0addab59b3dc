"""ROC AUC of a classifier trained to tell generated from reference events (the classifier
two-sample test of :func:`flashgen.validation.validate`; its noise is analytic)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..metric_registry import Metric, Value, register


def _fmt(value: Any, fmt: str) -> str:
    return "–" if value is None else format(value, fmt) if isinstance(value, (int, float)) else str(value)


def _details(result: Mapping[str, Any], key: str) -> str:
    clf = result.get("classifier")
    if not clf:
        return ""
    spread = (f"; mean of {clf['repeats']} trainings, spread {_fmt(clf.get('auc_spread'), '.2g')}"
              if clf.get("repeats", 1) > 1 else "")
    return (f"± {_fmt(clf['auc_err'], '.2g')}{spread}; {clf['n_train']:,} + {clf['n_test']:,} "
            f"events per class (train + test); balancing: {clf['balanced']}")


def _summary(result: Mapping[str, Any]) -> str | None:
    clf = result.get("classifier")
    if not clf:
        return None
    runs = clf.get("repeats", 1)
    spread = f" ({runs} trainings: spread {clf.get('auc_spread', 0.0):.3f})" if runs > 1 else ""
    return f"classifier AUC {clf['auc']:.3f} ± {clf['auc_err']:.3f}{spread}"


AUC = register(Metric(
    "classifier", "classifier", order=100, summary=_summary, values=(
        Value("auc", "classifier ROC AUC", fmt=".4g", limit=0.55, details=_details,
              description="ROC AUC of a classifier trained to tell generated from reference "
                          "events on held-out events (0.5 = indistinguishable)"),
    )))
