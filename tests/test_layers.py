"""The package's layers: each module imports only from its own layer or those below it, with no circle, and
only the flows build an Ollama client.

Every import counts, also those inside functions (how the CLI stays fast to start); imports under
TYPE_CHECKING count for the layers but not as circles, since they never run.
"""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fitadvisor"

# Lowest first. Data flows one way: machine and model -> estimate -> recommend -> configure -> verify/trial.
LAYERS = [
    # base modules: errors, units, files, datafiles, bounded reads, the terminal filter, the Claude Code facts, the version
    {"fitadvisor", "errors", "units", "files", "datafiles", "bounded", "terminal", "claude_code"},
    {"ollama"},  # the HTTP client, its typed answers, the server's settings
    {"hardware", "models"},  # the machine; the Architecture and every source of it
    {"memory"},  # releases, the estimate, placement, the budget, the calibration store
    {"speed"},
    {"recommend"},
    {"claude"},  # what Claude Code is given: alias, rc files, Modelfile, the tool-call check
    {"flows"},  # the use cases that talk to the outside, once per run
    {"commands"},  # click: options -> a flow -> a rendered result
    {"cli", "__main__"},
]
LAYER = {group: rank for rank, groups in enumerate(LAYERS) for group in groups}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def group(module: str) -> str:
    """The layer group of `fitadvisor.x.y`: its folder `x`, or the base module `x` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "fitadvisor"


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str], type_checking: bool = True) -> set[str]:
    """The fitadvisor modules `path` imports anywhere in it (`from fitadvisor.x import y` names module x.y if it is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                skipped |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("fitadvisor")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("fitadvisor"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found |= submodules or {node.module}
    return found


def graph(type_checking: bool = True) -> dict[str, set[str]]:
    found = modules()
    return {module: imports(path, set(found), type_checking) - {module} for module, path in found.items()}


def test_every_group_has_a_layer():
    assert {group(module) for module in modules()} <= set(LAYER)


def test_no_module_imports_from_a_layer_above_it():
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if LAYER[group(target)] > LAYER[group(module)]
    ]
    assert upward == []


def test_no_import_circle():
    edges = graph(type_checking=False)
    circles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join([*stack[stack.index(target):], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_only_the_client_module_and_the_flows_build_an_ollama_client():
    builders = sorted(
        module for module, path in modules().items()
        if re.search(r"(?<![\w.])Client\(", path.read_text(encoding="utf-8"))
        and module != "fitadvisor.ollama.client" and group(module) != "flows"
    )
    assert builders == []


TYPED = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fitadvisor.memory.estimate import Estimate\n"


@pytest.mark.parametrize("source, expected, at_runtime", [
    ("from fitadvisor.flows import apply\n", {"fitadvisor.flows.apply"}, {"fitadvisor.flows.apply"}),
    ("def f():\n    from fitadvisor.commands.options import ctx_option\n", {"fitadvisor.commands.options"}, {"fitadvisor.commands.options"}),
    ("import fitadvisor.cli\n", {"fitadvisor.cli"}, {"fitadvisor.cli"}),
    (TYPED, {"fitadvisor.memory.estimate"}, set()),
])
def test_imports_are_found_at_module_level_inside_functions_and_for_types(tmp_path, source, expected, at_runtime):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert imports(path, set(modules())) == expected
    assert imports(path, set(modules()), type_checking=False) == at_runtime
