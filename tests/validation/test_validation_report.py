"""The report folder: self-contained HTML whose images exist, strict JSON, atomic writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from validation_synthetic import make_zmumu

from flashgen.sources.electron import simulate_electrons
from flashgen.validation import ValidationSettings, validate


class _Page(HTMLParser):
    """Collects image sources, table ids, links and scripts of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tables: list[str] = []
        self.external: list[str] = []
        self.tags: set[str] = set()
        self.status_cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag == "table":
            self.tables.append(a.get("id") or "")
        if tag == "td" and a.get("class") in ("pass", "warn", "limited", "fail"):
            self.status_cells += 1
        for key in ("href", "src"):
            value = a.get(key) or ""
            if "://" in value or value.startswith("//"):
                self.external.append(value)


def _parse(folder: Path) -> _Page:
    page = _Page()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def zmumu_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("zmumu") / "report"
    gen = make_zmumu(4000, 2)
    gen.data["member"] = np.arange(len(gen)) % 3
    gen.meta.update({"command": "flashgen generate --model m.pt", "model": "m.pt",
                     "provenance": {"kind": "flow", "preset": "zmumu", "train_events": 250000,
                                    "optimiser": {"name": "adam", "lr": 0.001}},
                     "split": {"part": "heldout", "fraction": 0.2, "seed": 20240101},
                     "varies": ["seed", "shard"], "events_generated": 1234567})
    result = validate(make_zmumu(4000, 1), gen, out,
        ValidationSettings(seed=3, repeats=3), quiet=True)
    return out, result


def test_an_ensemble_sample_reports_its_worth(zmumu_report) -> None:
    out, result = zmumu_report
    worth = result["worth"]
    assert "mll" in worth and worth["mll"]["members"] == 3 and worth["mll"]["n_eff"] > 0
    assert worth["mll"]["generated_events"] == 4000
    assert 'id="worth-table"' in (out / "report.html").read_text(encoding="utf-8")
    chi = result["metrics"]["observable/mll"]
    # the inherited uncertainty only widens the χ² denominator
    assert chi["chi2_ndf"] <= chi["chi2_ndf_statistical"]


def test_report_html_references_existing_images_and_has_the_metrics_table(zmumu_report) -> None:
    out, result = zmumu_report
    page = _parse(out)
    assert page.images and all((out / src).is_file() for src in page.images)
    assert all("/" not in src for src in page.images)  # relative, alongside
    assert {"metrics-table", "global-table", "observables-table", "conditional-table",
            "thresholds-table", "samples-table"} <= set(page.tables)
    assert page.status_cells > 50
    assert not page.external and not {"script", "link", "iframe"} & page.tags
    names = {Path(s).name for s in page.images}
    assert {"hist_mu0_px.png", "hist_mll.png", "hist_met_phi.png", "correlation.png",
            "2d_jet1_pt_ptll.png", "slice_nvtx_met.png"} <= names
    assert "hist_member.png" not in names
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "flashgen generate --model m.pt" in html and "perfect generator" in html


class _Samples(HTMLParser):
    """The Samples table of a report page as rows of cell texts (``<br>`` read as a newline)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._inside = False
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._inside = dict(attrs).get("id") == "samples-table"
        elif self._inside and tag == "tr":
            self._row = []
        elif self._inside and tag == "td" and self._row is not None:
            self._row.append("")
        elif self._inside and tag == "br" and self._row:
            self._row[-1] += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._inside = False
        elif tag == "tr" and self._row:
            self.rows[self._row[0]] = self._row[1:]
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._inside and self._row:
            self._row[-1] += data


def test_samples_table_shows_nested_metadata_readably(zmumu_report) -> None:
    out, _ = zmumu_report
    table = _Samples()
    table.feed((out / "report.html").read_text(encoding="utf-8"))
    rows = table.rows
    text = "\n".join(cell for cells in rows.values() for cell in cells)
    assert "{'" not in text and "'}" not in text and "['" not in text
    assert rows["events in table"] == ["4,000", "4,000"]
    assert rows["provenance"][1].splitlines() == [
        "kind: flow", "preset: zmumu", "train_events: 250,000", "optimiser.name: adam",
        "optimiser.lr: 0.001"]
    assert rows["split"][1].splitlines() == ["part: heldout", "fraction: 0.2", "seed: 20240101"]
    assert rows["varies"] == ["–", "seed, shard"]
    assert rows["events_generated"] == ["–", "1,234,567"]
    assert rows["model"] == ["–", "m.pt"]


def test_metrics_json_is_strict_and_complete(zmumu_report) -> None:
    out, result = zmumu_report
    text = (out / "metrics.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert data["summary"] == result["summary"]
    assert data["samples"]["generated"]["meta"]["model"] == "m.pt"
    assert set(data["files"]) == {p.name for p in out.iterdir()}
    assert data["classifier"]["auc"] == result["classifier"]["auc"]
    assert {"global/correlation", "global/frechet", "observable/mll"} <= set(data["metrics"])
    assert data["resolution"]["observable/mll"]["ks_stat"]["mean"] > 0


def test_rewriting_a_report_replaces_it_and_leaves_no_temporary_files(zmumu_report, tmp_path) -> None:
    out, _ = zmumu_report
    target = tmp_path / "rep"
    shutil.copytree(out, target)
    (target / "notes.txt").write_text("mine")
    ref, gen = make_zmumu(2000, 5), make_zmumu(2000, 6)
    validate(ref, gen, target,
        ValidationSettings(features=["met_x", "met_y"], repeats=2, classifier=False), quiet=True)
    names = {p.name for p in target.iterdir()}
    assert "hist_mu0_px.png" not in names  # figures of the earlier report are removed
    assert {"hist_met.png", "report.html", "metrics.json", "notes.txt"} <= names
    assert json.loads((target / "metrics.json").read_text())["settings"]["features"] == ["met_x", "met_y"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert oct(target.stat().st_mode & 0o777) != "0o700"


def test_a_failure_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    import flashgen.validation.report as report

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(report, "plot_hists", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        validate(make_zmumu(500, 1), make_zmumu(500, 2), tmp_path / "rep",
            ValidationSettings(repeats=2, classifier=False), quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_electron_report_has_efficiency_figures(tmp_path) -> None:
    out = tmp_path / "electron"
    validate(simulate_electrons(5000, 1), simulate_electrons(5000, 2), out,
        ValidationSettings(repeats=2), quiet=True)
    page = _parse(out)
    names = {Path(s).name for s in page.images}
    assert {"eff_gen_pt.png", "eff_abs_gen_eta.png", "slice_gen_pt_pt.png", "hist_pt.png",
            "hist_pt_response.png"} <= names
    assert all((out / src).is_file() for src in page.images)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Test-only probe, added to a copy of the report (the report itself has no scripts): once the page
# and its images have loaded, it records on <body> how many images decoded and whether the
# verdict banner is rendered, so that ``--dump-dom`` shows it.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const ok = images.filter(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.imagesLoaded = ok.length + "/" + images.length;
  document.body.dataset.broken = images.filter(i => !ok.includes(i)).map(i => i.getAttribute("src")).join(" ");
  const v = document.getElementById("verdict");
  const box = v ? v.getBoundingClientRect() : null;
  document.body.dataset.verdict = box && box.width > 0 && box.height > 0 ? v.textContent.trim() : "";
});
</script>"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def chromium() -> Path:
    """Debian's headless Chromium; skipped where absent, except in CI (``CI`` set), which must
    have it (``.ci/run`` installs it), so that a missing browser fails instead of passing quietly."""
    if not CHROMIUM.exists():
        if _in_ci():
            pytest.fail(f"CI is set but {CHROMIUM} is missing; .ci/run should have installed chromium")
        pytest.skip(f"needs {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


class _Dom(HTMLParser):
    """The attributes of <body>, and the verdict banner's classes and text, in a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.verdict_class: str | None = None
        self.verdict_text = ""
        self._in_verdict = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if a.get("id") == "verdict":
            self.verdict_class, self._in_verdict = a.get("class") or "", True

    def handle_endtag(self, tag: str) -> None:
        self._in_verdict = False

    def handle_data(self, data: str) -> None:
        if self._in_verdict:
            self.verdict_text += data


def test_report_renders_in_headless_chromium(zmumu_report, chromium, tmp_path) -> None:
    out, result = zmumu_report
    profile = f"--user-data-dir={tmp_path / 'profile'}"
    # 1. every image of the page loads and decodes, and the verdict banner is rendered
    probed = tmp_path / "probed"
    shutil.copytree(out, probed)
    page = probed / "report.html"
    text = page.read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    page.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = subprocess.run([str(chromium), *CHROMIUM_FLAGS, profile, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False)
    dom = _Dom()
    dom.feed(run.stdout)
    n_images = len(_parse(out).images)
    assert n_images > 20
    assert dom.body.get("data-images-loaded") == f"{n_images}/{n_images}", (
        f"images that did not load: {dom.body.get('data-broken')!r}; chromium: {run.stderr[-2000:]}")
    assert dom.body.get("data-broken") == ""
    verdict = result["summary"]["verdict"]
    assert dom.verdict_class is not None and dom.verdict_class.split()[0] == "verdict"
    assert dom.verdict_class.split()[1] in ("pass", "warn", "limited", "fail", "unavailable")
    assert dom.verdict_text.strip() == verdict and dom.body.get("data-verdict") == verdict
    # 2. a screenshot of the report as written (no probe) shows tables and plots, not a blank page
    shot = tmp_path / "shot.png"
    subprocess.run([str(chromium), *CHROMIUM_FLAGS, profile, f"--screenshot={shot}",
                    "--window-size=1400,3000", (out / "report.html").resolve().as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file()
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1400, 3000)
        colours = img.convert("RGB").resize((140, 300)).getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 50  # tables and plots, not a blank page
