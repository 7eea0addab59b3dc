"""`flashgen train --ensemble M --scheduler ADDRESS` on a running Dask scheduler writes the model
of `--workers 1` (and of `--workers 2`): the same weights of every member.

Everything runs in subprocesses (a `dask scheduler`, two `dask worker`s, three `flashgen train`),
each with a time limit, so that a cluster problem fails the test instead of hanging the suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from flashgen.models import load_model

pytest.importorskip("dask.distributed")
BIN = Path(sys.executable).parent
LIMIT = 240  # seconds for any one command
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _flashgen(*argv: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "flashgen"), *map(str, argv)], capture_output=True, text=True,
                          timeout=LIMIT, env=ENV, check=False)


def _weights(path: Path) -> list[dict[str, np.ndarray]]:
    return [{k: v.numpy() for k, v in m.network.state_dict().items()} for m in load_model(path).members]


@pytest.fixture()
def scheduler(tmp_path):  # type: ignore[no-untyped-def]
    """The address of a running local Dask scheduler with two one-thread workers."""
    dask = shutil.which("dask", path=str(BIN)) or str(BIN / "dask")
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", str(info), "--host", "127.0.0.1",
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert info.exists(), "the Dask scheduler did not start within 60 s"
        procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(info), "--nworkers", "2",
                                       "--nthreads", "1", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV))
        yield json.loads(info.read_text())["address"]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_an_ensemble_trained_on_a_scheduler_equals_one_trained_in_one_process(tmp_path, scheduler) -> None:
    table = tmp_path / "camel.parquet"
    assert _flashgen("simulate", "camelback", "-n", 300, "--seed", 1, "-o", table, "-q").returncode == 0
    common = ["train", "-d", table, "-m", "flow", "--preset", "camelback", "--steps", 30, "--seed", 5,
              "--ensemble", 4, "-q"]
    runs = {"one": ["--workers", 1], "two": ["--workers", 2], "scheduler": ["--scheduler", scheduler]}
    for name, extra in runs.items():
        done = _flashgen(*common, "-o", tmp_path / f"{name}.pt", *extra)
        assert done.returncode == 0, done.stderr
    reference = _weights(tmp_path / "one.pt")
    assert len(reference) == 4
    for name in ("two", "scheduler"):
        other = _weights(tmp_path / f"{name}.pt")
        for a, b in zip(reference, other, strict=True):
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), name
