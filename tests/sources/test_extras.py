"""Optional dependencies: without the ``zmumu`` extra, one line naming it, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.extras import require

ZMUMU_MODULES = ("pythia8mc", "fastjet", "awkward", "dask", "distributed")
INSTALL = "pip install 'flashgen[zmumu]'"


def test_require_returns_the_module() -> None:
    assert require("json", "zmumu") is sys.modules["json"]


@pytest.mark.parametrize("module", ["pythia8mc", "fastjet", "dask.distributed"])
def test_require_names_the_extra(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module.split(".")[0], None)  # import now fails
    monkeypatch.delitem(sys.modules, "dask.distributed", raising=False)
    with pytest.raises(FlashgenError) as err:
        require(module, "zmumu")
    assert str(err.value) == f"the Z→μμ simulator needs {module}, which is not installed: {INSTALL}"
    assert "\n" not in str(err.value)


def test_a_broken_module_is_not_called_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "flashgen_broken_mod.py").write_text("raise ImportError('libfoo.so: cannot open')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(FlashgenError, match=r"needs flashgen_broken_mod, which fails to import "
                       r"\(libfoo.so: cannot open\): pip install 'flashgen\[zmumu\]'"):
        require("flashgen_broken_mod", "zmumu")


def test_deferred_require_fails_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "awkward", None)
    ak = require("awkward", "zmumu", deferred=True)
    with pytest.raises(FlashgenError, match=r"needs awkward, which is not installed"):
        ak.Array  # noqa: B018
    assert require("numpy", "zmumu", deferred=True) is np


def test_zmumu_import_sites_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from flashgen.sources.zmumu.generator import DRELL_YAN_SETTINGS, make_pythia
    from flashgen.sources.zmumu.jets import cluster_jets

    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    monkeypatch.setitem(sys.modules, "fastjet", None)
    with pytest.raises(FlashgenError, match=r"needs pythia8mc, .* pip install 'flashgen\[zmumu\]'"):
        make_pythia(DRELL_YAN_SETTINGS, 1)
    empty = np.zeros(0)
    with pytest.raises(FlashgenError, match=r"needs fastjet, .* pip install 'flashgen\[zmumu\]'"):
        cluster_jets(empty.astype(np.int64), empty, empty, empty, empty, empty, 0)


_WITHOUT_EXTRA = textwrap.dedent("""
    import sys
    for name in {modules!r}:
        sys.modules[name] = None  # as if not installed
    from flashgen.cli.main import main
    sys.exit(main(sys.argv[1:]))
""").format(modules=ZMUMU_MODULES)


def _flashgen_without_extra(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-c", _WITHOUT_EXTRA, *args], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=120)


def test_cli_without_the_extra(tmp_path: Path) -> None:
    listed = _flashgen_without_extra("simulate", "--help")
    assert listed.returncode == 0, listed.stderr
    assert "zmumu" in listed.stdout  # the subcommand is still registered

    out = tmp_path / "dy"
    ran = _flashgen_without_extra("simulate", "zmumu", "--events", "10", "--out", str(out))
    assert ran.returncode == 2
    assert ran.stderr == ("flashgen: error: the Z→μμ simulator needs pythia8mc, which is not "
                          f"installed: {INSTALL}\n")
    assert not out.exists()  # checked before anything is written

    toy = _flashgen_without_extra("simulate", "camelback", "--events", "100", "--quiet",
                                  "--out", str(tmp_path / "toy.parquet"))
    assert toy.returncode == 0, toy.stderr  # the rest of flashgen needs no extra
