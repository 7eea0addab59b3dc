"""The documentation that ships with the code stays true to it: the generated command-line
reference is up to date, relative links point to files, the README stays a short user's guide,
and every ``docs/`` page the source cites exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_BYTES = 12_500

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
"""Inline Markdown links and images: ``[text](target)``, ``![alt](target "title")``."""
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
"""Reference-style link definitions: ``[name]: target``."""
FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1\s*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
CITED_DOC = re.compile(r"(?<![\w./-])docs/([\w.-]+\.md)")
"""A path ``docs/<name>.md`` that starts there (``other/docs/X.md`` does not count)."""


def _cli_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "tools" / "cli_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _markdown_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "benchmarks" / "results" / "README.md"]
    return [f for f in files if f.is_file()] + sorted((ROOT / "docs").glob("*.md"))


def relative_links(text: str) -> list[str]:
    """Targets of the relative links of a Markdown text, without anchors; code is skipped."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    targets = LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    out = []
    for target in targets:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "//")):
            continue  # http:, https:, mailto:, ... and anchors within the page
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path:
            out.append(path)
    return out


def test_cli_reference_is_up_to_date() -> None:
    cli_docs = _cli_docs()
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    made_with = cli_docs.recorded_python(current)
    if made_with != cli_docs.PYTHON:  # argparse's layout differs between Python versions
        pytest.skip(f"docs/cli.md was made with Python {made_with}, this is {cli_docs.PYTHON}")
    assert current == cli_docs.render(), "docs/cli.md is out of date: run `python tools/cli_docs.py`"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(path: Path) -> None:
    broken = [t for t in relative_links(path.read_text(encoding="utf-8"))
              if not (path.parent / t).exists()]
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_readme_is_a_short_guide() -> None:
    raw = (ROOT / "README.md").read_bytes()
    assert raw.startswith(b"# flashgen"), "README.md must start with its title '# flashgen'"
    assert len(raw) <= README_MAX_BYTES, (
        f"README.md is {len(raw):,} bytes (at most {README_MAX_BYTES:,}): move result logs to "
        "benchmarks/results/ and reference material to docs/")


def test_docs_cited_by_the_source_exist() -> None:
    cited: dict[str, list[str]] = {}
    for source in sorted((ROOT / "src").rglob("*.py")):
        for name in CITED_DOC.findall(source.read_text(encoding="utf-8")):
            cited.setdefault(name, []).append(str(source.relative_to(ROOT)))
    missing = {name: where for name, where in cited.items() if not (ROOT / "docs" / name).is_file()}
    assert not missing, f"the source cites docs that do not exist: {missing}"


def test_link_extraction() -> None:
    text = ("See [a](docs/a.md#x), ![img](b.png \"t\"), [web](https://x.org), [here](#top),\n"
            "`[not](code.md)` and\n```\n[also not](fenced.md)\n```\n[ref]: ../c.md\n")
    assert relative_links(text) == ["docs/a.md", "b.png", "../c.md"]
