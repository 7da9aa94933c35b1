"""Runtime dependencies are complete: every module that runs in production (everything
outside tests/ and bench/, migrations and scripts included) imports only the standard
library, the project's own packages and the distributions `[project].dependencies`
declares. `pip install .` installs exactly those, so anything else fails in the image."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not shipped to production (tests, benchmarks) or not code of ours (environments, state).
NOT_PRODUCTION = {"tests", "bench", ".venv", ".run", "test-artifacts", "build", "__pycache__"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonical(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]) for requirement in project["dependencies"]}


def own_packages() -> set[str]:
    names = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    return names | {path.stem for path in ROOT.glob("*.py")}


def production_modules() -> list[Path]:
    return sorted(
        path for path in ROOT.rglob("*.py")
        if not any(part in NOT_PRODUCTION or part.startswith(".") for part in path.relative_to(ROOT).parts[:-1])
    )


def imported_names(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import in the module, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def undeclared_imports(path: str, source: str) -> list[str]:
    """One line per import that production could not satisfy, naming the module and the import."""
    declared = declared_distributions()
    own = own_packages() - NOT_PRODUCTION
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for line, name in imported_names(source):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in own:
            continue
        if top in NOT_PRODUCTION:
            problems.append(f"{path}:{line} imports {name}, which is test or benchmark code and is not shipped")
            continue
        providers = distributions.get(top, [])
        if not providers:
            problems.append(f"{path}:{line} imports {name}, which no installed distribution provides")
        elif not declared & {canonical(provider) for provider in providers}:
            problems.append(
                f"{path}:{line} imports {name}, from {', '.join(providers)}, which [project].dependencies does not declare"
            )
    return problems


def test_every_production_import_is_the_stdlib_our_own_code_or_a_declared_dependency():
    modules = production_modules()
    assert ROOT / "warroom" / "settings.py" in modules and ROOT / "manage.py" in modules
    assert any("migrations" in path.parts for path in modules)
    assert not any(part in {"tests", "bench"} for path in modules for part in path.relative_to(ROOT).parts)
    problems = [
        problem
        for path in modules
        for problem in undeclared_imports(str(path.relative_to(ROOT)), path.read_text())
    ]
    assert not problems, "\n".join(problems)


def test_the_walk_names_the_module_and_the_import_it_cannot_satisfy():
    """The check above can fail: test-only libraries, the loopback fakes and unknown names are caught."""
    source = "import json\nfrom django.db import models\nfrom . import services\n\ndef f():\n    import pytest\n    from tests.fakes import x_api\n    import no_such_module_anywhere\n"
    problems = undeclared_imports("listening/example.py", source)
    assert problems == [
        "listening/example.py:6 imports pytest, from pytest, which [project].dependencies does not declare",
        "listening/example.py:7 imports tests.fakes, which is test or benchmark code and is not shipped",
        "listening/example.py:8 imports no_such_module_anywhere, which no installed distribution provides",
    ]


def test_the_test_only_libraries_stay_in_the_test_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = declared_distributions()
    test_extra = {canonical(re.split(r"[\s\[<>=!~;]", item, maxsplit=1)[0]) for item in project["optional-dependencies"]["test"]}
    assert not runtime & test_extra, f"declared twice: {sorted(runtime & test_extra)}"
    assert {"pytest", "playwright"} <= test_extra
    assert "pyyaml" in runtime, "playbooks import and export YAML in production"
    unpinned = [item for item in project["dependencies"] if "==" not in item]
    assert not unpinned, f"runtime dependencies are pinned with ==: {unpinned}"
