"""The package's layers point one way (docs/architecture.md): no module imports a module of a
higher layer, at the top of a file or inside a function, and no two modules import each other,
directly or through others."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: list[tuple[str, ...]] = [
    # 0: shared machinery, no dataset and no model
    ("flashgen.errors", "flashgen.progress", "flashgen.files", "flashgen.seeds", "flashgen.extras",
     "flashgen.manifest", "flashgen.executor", "flashgen.domain", "flashgen.arguments"),
    # 1: event tables and invertible preprocessing
    ("flashgen.data", "flashgen.collections", "flashgen.transforms", "flashgen.nanoaod", "flashgen.distances"),
    # 2: what the reference sources are, and the networks
    ("flashgen.sources", "flashgen.models"),
    # 3: fitting a model to a table, and sampling a model file to a table
    ("flashgen.training", "flashgen.generation", "flashgen.sharded"),
    # 4: statistics of samples (pure functions)
    ("flashgen.stats",),
    # 5: comparing two tables
    ("flashgen.validation",),
    # 6: what runs the chain: the main job, speed measurements, studies with exact truth
    ("flashgen.job", "flashgen.speed", "flashgen.studies", "flashgen.api"),
    # 7: the command line
    ("flashgen.cli",),
]
PACKAGE_FACE = "flashgen"  # flashgen/__init__.py: the version and the public names, lazily


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    for level, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return level
    return None


def imports_of(path: Path) -> set[str]:
    """Every flashgen module ``path`` imports, anywhere in the file (resolved to absolute names)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "flashgen"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "flashgen":
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                as_path = SRC / sub.replace(".", "/")
                found.add(sub if as_path.with_suffix(".py").exists() or as_path.is_dir() else target)
    return found


@cache
def all_modules() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted((SRC / "flashgen").rglob("*.py"))}


def test_every_module_has_a_layer() -> None:
    missing = [m for m in all_modules() if m != PACKAGE_FACE and layer_of(m) is None]
    assert not missing, f"modules without a layer (add them to LAYERS and docs/architecture.md): {missing}"


def test_no_import_runs_up() -> None:
    upward = []
    for module, targets in all_modules().items():
        own = layer_of(module)
        for target in targets:
            if module == PACKAGE_FACE or target == PACKAGE_FACE:
                continue
            if own is not None and (layer_of(target) or 0) > own:
                upward.append(f"{module} (layer {own}) imports {target} (layer {layer_of(target)})")
    assert not upward, "imports that run up:\n" + "\n".join(sorted(upward))


def test_no_circle() -> None:
    modules = all_modules()
    graph = {m: {t for t in ts if t in modules and t != m} for m, ts in modules.items()}
    # a package's __init__ re-exporting its submodules is not a circle of its own
    for m in graph:
        graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_no_two_modules_share_a_name() -> None:
    seen: dict[str, list[str]] = {}
    for p in (SRC / "flashgen").rglob("*.py"):
        if p.name != "__init__.py":
            seen.setdefault(p.stem, []).append(str(p.relative_to(SRC)))
    repeated = {k: v for k, v in seen.items() if len(v) > 1}
    assert not repeated, f"module names used twice: {repeated}"
