"""``flashgen validate`` on Z→μμ-like tables: a small run always, 1e5 events as slow.

No wall-clock limit is asserted (a loaded machine would fail it); the slow test prints its time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from validation_synthetic import make_zmumu

from flashgen.cli.main import main
from flashgen.data import write_table


def _run(tmp_path: Path, n: int) -> tuple[float, dict]:
    ref, gen = tmp_path / "ref.parquet", tmp_path / "gen.parquet"
    write_table(make_zmumu(n, 1), ref)
    write_table(make_zmumu(n, 2), gen)
    out = tmp_path / "report"
    start = time.perf_counter()
    rc = main(["validate", "--reference", str(ref), "--generated", str(gen), "--out", str(out),
               "--quiet"])
    seconds = time.perf_counter() - start
    assert rc == 0
    return seconds, json.loads((out / "metrics.json").read_text())


def test_validate_small_zmumu_tables(tmp_path: Path) -> None:
    seconds, metrics = _run(tmp_path, 3000)
    assert metrics["summary"]["counts"]["fail"] == 0
    assert len(metrics["settings"]["features"]) == 18 and len(metrics["settings"]["observables"]) == 6


@pytest.mark.slow
def test_validate_1e5_zmumu_tables(tmp_path: Path) -> None:
    seconds, metrics = _run(tmp_path, 100_000)
    print(f"flashgen validate, 2 x 1e5 Z->mumu-like events: {seconds:.1f} s; "
          f"AUC {metrics['classifier']['auc']:.4f}; {metrics['summary']['counts']}")
    assert metrics["summary"]["counts"]["fail"] == 0
    assert abs(metrics["classifier"]["auc"] - 0.5) < 0.01
