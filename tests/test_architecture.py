"""The layering the package promises, read from the source with ``ast`` (nothing is imported).

Two promises, each a table below so a reader sees it without reading the checks:

- The domain core (``forecast_assets/core``) is plain Python over DataFrames: it runs and is
  tested without Dagster, the settings module, the resources or the Dagster definitions.
- One stage's asset module in ``forecast_assets/defs`` never imports another stage's: stages meet
  through the asset graph and through shared readers (``defs/inputs.py``), so a stage can be
  moved, split or replaced without dragging the others along.

Imports inside functions count as much as top-level ones (a lazy ``import dagster`` in the core
still ties it to Dagster), and relative imports are resolved to the absolute module they name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

PACKAGE = "forecast_assets"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

# Rule (a): what no module under forecast_assets/core may import, and why.
CORE_FORBIDDEN: dict[str, str] = {
    "dagster": "the orchestrator: the core must run and be tested without it",
    "dagster_*": "Dagster integrations (dagster_dbt, dagster_k8s, ...): same reason as dagster",
    "forecast_assets.settings": "the environment: the core takes its parameters as arguments",
    "forecast_assets.resources": "warehouse, model and tracking resources: the defs hand data to the core",
    "forecast_assets.defs": "the Dagster definitions sit on top of the core, never under it",
    "forecast_assets.definitions": "the assembled Definitions: the top of the stack",
}

# Rule (b): the stage asset modules of forecast_assets/defs (a module or a package). None of them
# may import another; what two stages share goes to a shared module such as defs/inputs.py.
STAGE_MODULES: dict[str, str] = {
    "ingestion": "forecast_assets.defs.ingestion",
    "dbt": "forecast_assets.defs.dbt",
    "forecasting": "forecast_assets.defs.forecasting",
    "evaluation": "forecast_assets.defs.evaluation",
    "inventory": "forecast_assets.defs.inventory",
}

# The tree names where each stage of the flow lives in the core.
CORE_STAGE_PACKAGES: tuple[str, ...] = ("landing", "forecasting", "evaluation", "inventory")


@dataclass(frozen=True)
class Import:
    """One imported module, absolute, with the line that imports it."""

    name: str
    line: int


def module_name(path: Path, root: Path = PACKAGE_DIR) -> str:
    """``forecast_assets/core/landing/watch.py`` -> ``forecast_assets.core.landing.watch``
    (a package's ``__init__.py`` is the package itself)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` names; ``level`` dots count up from the importer's
    package (for ``__init__.py`` the importer is that package)."""
    if level == 0:
        return module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_in(source: str, importer: str, is_package: bool = False) -> list[Import]:
    """Every module ``source`` imports, anywhere in it (functions, conditionals, TYPE_CHECKING).

    ``from a import b`` yields both ``a`` and ``a.b``, since ``b`` may be a submodule
    (``from forecast_assets import settings``). ``importlib.import_module("x")`` with a literal
    name counts too, so a dynamic import cannot slip past.
    """
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, importer, is_package)
            if base:
                found.append(Import(base, node.lineno))
            found += [
                Import(f"{base}.{alias.name}" if base else alias.name, node.lineno)
                for alias in node.names
                if alias.name != "*"
            ]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append(Import(node.args[0].value, node.lineno))
    return found


def names_module(name: str, pattern: str) -> bool:
    """Whether the imported ``name`` is the module ``pattern`` (a glob) or inside it."""
    return fnmatchcase(name, pattern) or fnmatchcase(name, f"{pattern}.*")


def package_modules(under: Path) -> list[tuple[Path, str]]:
    """(file, module name) of every Python file under ``under``."""
    return [(path, module_name(path)) for path in sorted(under.rglob("*.py"))]


def file_imports(path: Path, module: str) -> list[Import]:
    return imports_in(path.read_text(), module, is_package=path.name == "__init__.py")


def stage_of(module: str) -> str | None:
    """The stage whose asset module (or package) ``module`` is or belongs to."""
    for stage, stage_module in STAGE_MODULES.items():
        if names_module(module, stage_module):
            return stage
    return None


def core_violations() -> list[str]:
    """One line per forbidden import statement, naming the module, the line and the import."""
    found: dict[tuple[str, int, str], str] = {}
    for path, module in package_modules(PACKAGE_DIR / "core"):
        for imp in file_imports(path, module):
            for pattern, why in CORE_FORBIDDEN.items():
                if names_module(imp.name, pattern):
                    found.setdefault(
                        (module, imp.line, pattern), f"{module} (line {imp.line}) imports {imp.name}: {why}"
                    )
    return sorted(found.values())


def stage_violations() -> list[str]:
    """One line per import statement that crosses stages, naming both modules and the line."""
    found: dict[tuple[str, int, str], str] = {}
    for path, module in package_modules(PACKAGE_DIR / "defs"):
        stage = stage_of(module)
        if stage is None:
            continue
        for imp in file_imports(path, module):
            other = stage_of(imp.name)
            if other is not None and other != stage:
                found.setdefault(
                    (module, imp.line, other),
                    f"{module} (line {imp.line}, stage {stage}) imports {imp.name} (stage {other}): "
                    "move what both need to a shared module such as forecast_assets/defs/inputs.py",
                )
    return sorted(found.values())


def test_core_imports_nothing_of_dagster_settings_resources_or_defs() -> None:
    assert list((PACKAGE_DIR / "core").rglob("*.py")), "no core modules found: is PACKAGE_DIR right?"
    violations = core_violations()
    assert not violations, "the core must stay free of the orchestration layers:\n" + "\n".join(violations)


def test_no_stage_asset_module_imports_another_stage() -> None:
    violations = stage_violations()
    assert not violations, "stage asset modules import each other:\n" + "\n".join(violations)


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_every_stage_asset_module_exists(stage: str) -> None:
    """A renamed stage module would make the stage rule silently check nothing."""
    relative = Path(*STAGE_MODULES[stage].split("."))
    root = PACKAGE_DIR.parent
    assert (root / relative).with_suffix(".py").is_file() or (root / relative / "__init__.py").is_file(), (
        f"stage {stage}: {STAGE_MODULES[stage]} not found; update STAGE_MODULES in {Path(__file__).name}"
    )


@pytest.mark.parametrize("stage", CORE_STAGE_PACKAGES)
def test_every_stage_has_a_core_package(stage: str) -> None:
    package = PACKAGE_DIR / "core" / stage
    assert (package / "__init__.py").is_file(), f"forecast_assets/core/{stage}/ is not a package"


# The reader itself: the rules are only as good as the imports it finds.
READER_CASES = [
    ("import dagster", "forecast_assets.core.x", False, "dagster"),
    ("import dagster_dbt.core as d", "forecast_assets.core.x", False, "dagster_dbt.core"),
    ("def f():\n    from dagster import asset\n", "forecast_assets.core.x", False, "dagster"),
    ("from forecast_assets import settings", "forecast_assets.core.x", False, "forecast_assets.settings"),
    ("from ..defs import inputs", "forecast_assets.core.x", False, "forecast_assets.defs.inputs"),
    ("from ... import resources", "forecast_assets.core.landing.y", False, "forecast_assets.resources"),
    ("from ... import settings", "forecast_assets.core.landing", True, "forecast_assets.settings"),
    ("from . import watch", "forecast_assets.core.landing", True, "forecast_assets.core.landing.watch"),
    (
        "from .evaluation import load_forecasts",
        "forecast_assets.defs.inventory",
        False,
        "forecast_assets.defs.evaluation",
    ),
    ("importlib.import_module('dagster_k8s')", "forecast_assets.core.x", False, "dagster_k8s"),
]


@pytest.mark.parametrize(("source", "importer", "is_package", "expected"), READER_CASES)
def test_reader_finds_every_kind_of_import(
    source: str, importer: str, is_package: bool, expected: str
) -> None:
    assert expected in {imp.name for imp in imports_in(source, importer, is_package)}


def test_rules_catch_what_they_promise() -> None:
    assert any(names_module("dagster_postgres.utils", p) for p in CORE_FORBIDDEN)
    assert not any(names_module("dagsterish", p) for p in CORE_FORBIDDEN)
    assert not any(names_module("forecast_assets.settings_extra", p) for p in CORE_FORBIDDEN)
    assert stage_of("forecast_assets.defs.dbt.assets") == "dbt"
    assert stage_of("forecast_assets.defs.inputs") is None
