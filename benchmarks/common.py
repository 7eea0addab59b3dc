"""Shared helpers of the benchmark scripts in ``benchmarks/``.

The scripts run as ``python benchmarks/bench_x.py``, so this folder is on ``sys.path`` and they
import from here with ``from common import ...``:

- :func:`describe_machine`: one Markdown line for :func:`flashgen.speed.machine_info`;
- :func:`write_results`: a result's ``name.json`` and ``name.md``, atomically;
- :func:`command_line`: the shell command that ran a script, for the record;
- :func:`mll_peak_width` (:data:`MLL_WINDOW`): m(μμ) peak and core width of a Z→μμ table;
- :func:`fidelity`: the headline fidelity numbers of a generated Z→μμ table against a reference.

flashgen itself is imported only where needed, so that ``--help`` stays fast.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from flashgen.data import EventTable

__all__ = ["MLL_WINDOW", "command_line", "describe_machine", "fidelity", "mll_peak_width",
           "write_results"]


# ------------------------------------------------------------------------------- the record


def describe_machine(info: dict[str, Any]) -> str:
    """One Markdown line describing :func:`flashgen.speed.machine_info`."""
    gpu = f"; GPU {info['gpu']['name']} ({info['gpu']['memory_gib']} GiB, CUDA {info['gpu']['cuda']})" \
        if "gpu" in info else ""
    return (f"Machine: {info['cpu_model']}, {info['cores']} cores, {info['memory_gib']} GiB, "
            f"torch {info['versions']['torch']} ({info['torch_threads']} threads), Python "
            f"{info['python']}, {info['platform']}{gpu}; measured {info['date']}, load average "
            f"{' / '.join(str(x) for x in info['load_average'])} (1 / 5 / 15 min).")


def write_results(result: dict[str, Any], markdown: str, folder: str | os.PathLike[str],
                  name: str) -> tuple[Path, Path]:
    """Write a benchmark's ``folder/name.json`` (:func:`flashgen.files.write_json`) and
    ``folder/name.md``, each atomically; the folder is created. Returns both paths."""
    from flashgen.files import atomic_path, write_json

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"{name}.md"
    with atomic_path(table) as tmp:
        tmp.write_text(markdown)
    return write_json(result, out / f"{name}.json"), table


def command_line(script: str, argv: list[str] | None) -> str:
    """The shell command that ran ``benchmarks/script`` with ``argv`` (default: this process's)."""
    return shlex.join(["python", f"benchmarks/{script}", *(argv if argv is not None else sys.argv[1:])])


# ------------------------------------------------------------------------------- Z→μμ fidelity


MLL_WINDOW = (70.0, 110.0)
"""m(μμ) window of the peak width, GeV."""


def mll_peak_width(table: EventTable, *, bootstrap: int = 0, seed: int = 0) -> dict[str, float]:
    """m(μμ) peak (half-sample mode) and core width (σ_eff in 70-110 GeV) of a Z→μμ table, GeV.

    m(μμ) is the registered observable ``mll`` (:data:`flashgen.sources.observables.OBSERVABLES`),
    computed in float64. With ``bootstrap > 0``, also their standard errors from that many
    bootstrap resamples.
    """
    from flashgen.data import EventTable
    from flashgen.studies.estimators import half_sample_mode, sigma_eff
    from flashgen.sources.observables import OBSERVABLES

    cols = EventTable({n: np.asarray(table[n], dtype=np.float64) for n in table.names})
    m = np.asarray(OBSERVABLES["mll"](cols))
    out = {"peak": half_sample_mode(m), "width": sigma_eff(m, MLL_WINDOW), "events": int(m.size)}
    if bootstrap:
        rng = np.random.default_rng(seed)
        draws = [rng.choice(m, m.size) for _ in range(bootstrap)]
        out["peak_err"] = float(np.std([half_sample_mode(d) for d in draws], ddof=1))
        out["width_err"] = float(np.std([sigma_eff(d, MLL_WINDOW) for d in draws], ddof=1))
    return out


def fidelity(reference: EventTable, generated: EventTable, *, max_events: int | None = 100_000,
             seed: int = 0, repeats: int = 10) -> dict[str, Any]:
    """Headline fidelity numbers of a generated Z→μμ table against a (held-out) reference.

    Returns:
        ``auc``, ``auc_err`` (classifier two-sample test), ``worst_feature`` (largest KS, with
        W1/σ and status), ``counts`` and ``verdict`` of every check of
        :func:`flashgen.validation.validate`, and ``mll`` peak and width of both tables.
    """
    from flashgen.validation import ValidationSettings, validate
    from flashgen.validation.summary import worst_feature

    metrics = validate(reference, generated, None,
                       ValidationSettings(max_events=max_events, seed=seed, repeats=repeats), quiet=True)
    clf = metrics.get("classifier") or {}
    return {"auc": clf.get("auc"), "auc_err": clf.get("auc_err"),
            "worst_feature": worst_feature(metrics), "counts": metrics["summary"]["counts"],
            "verdict": metrics["summary"]["verdict"],
            "mll": {"reference": mll_peak_width(reference, bootstrap=50, seed=seed),
                    "generated": mll_peak_width(generated)}}
