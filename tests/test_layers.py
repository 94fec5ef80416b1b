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
    {"cli", "launch", "__main__"},  # the console script: launch answers --version, then hands over to cli
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


def imports(path: Path, known: set[str], type_checking: bool = True, module: str | None = None) -> set[str]:
    """The fitadvisor modules `path` imports anywhere in it (`from fitadvisor.x import y` names module x.y if it is one):
    absolute, relative (`from ..x import y`, resolved against `path`'s own package) and by name (`import_module`
    of a string that starts with `fitadvisor.`, counted as its package). `module`: the name `path` has (its own)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
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
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[:len(parts) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            if source.startswith("fitadvisor"):
                submodules = {f"{source}.{alias.name}" for alias in node.names} & known
                found |= submodules or {source}
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") and node.args:
            name = node.args[0]
            prefix = name.values[0] if isinstance(name, ast.JoinedStr) and name.values else name
            if isinstance(prefix, ast.Constant) and str(prefix.value).startswith("fitadvisor"):
                found.add(str(prefix.value).rstrip("."))
    return found


def graph(type_checking: bool = True) -> dict[str, set[str]]:
    found = modules()
    return {module: imports(path, set(found), type_checking) - {module} for module, path in found.items()}


def test_every_group_has_a_layer():
    assert {group(module) for module in modules()} <= set(LAYER)


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        for target in targets
        if LAYER[group(target)] > LAYER[group(module)]
    )


def import_circles(edges: dict[str, set[str]]) -> list[str]:
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
    return circles


def builds_a_client(path: Path) -> bool:
    """`Client(` anywhere in the text (a bare name: httpx.Client is another class), or a call of the client class
    under another name (`from fitadvisor.ollama.client import Client as C`, `client.Client(...)`)."""
    text = path.read_text(encoding="utf-8")
    if re.search(r"(?<![\w.])Client\(", text):
        return True
    tree = ast.parse(text)
    names, modules_bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "fitadvisor.ollama.client":
            names |= {alias.asname or alias.name for alias in node.names if alias.name == "Client"}
        elif isinstance(node, ast.ImportFrom) and node.module == "fitadvisor.ollama":
            modules_bound |= {alias.asname or alias.name for alias in node.names if alias.name == "client"}
        elif isinstance(node, ast.Import):
            modules_bound |= {alias.asname or alias.name for alias in node.names if alias.name == "fitadvisor.ollama.client"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = ast.unparse(node.func)
        if called in names or any(called == f"{bound}.Client" for bound in modules_bound):
            return True
    return False


def client_builders(found: dict[str, Path]) -> list[str]:
    return sorted(
        module for module, path in found.items()
        if builds_a_client(path) and module != "fitadvisor.ollama.client" and group(module) != "flows"
    )


def test_no_module_imports_from_a_layer_above_it():
    assert upward_imports(graph()) == []


def test_no_import_circle():
    assert import_circles(graph(type_checking=False)) == []


def test_only_the_client_module_and_the_flows_build_an_ollama_client():
    assert client_builders(modules()) == []


def test_an_upward_import_is_found():
    edges = {"fitadvisor.memory.estimate": {"fitadvisor.units", "fitadvisor.flows.estimate"}, "fitadvisor.units": set()}
    assert upward_imports(edges) == ["fitadvisor.memory.estimate imports fitadvisor.flows.estimate"]


def test_an_import_circle_is_found():
    edges = {"fitadvisor.claude.alias": {"fitadvisor.claude.quoting"}, "fitadvisor.claude.quoting": {"fitadvisor.claude.templates"},
             "fitadvisor.claude.templates": {"fitadvisor.claude.alias"}, "fitadvisor.units": set()}
    assert import_circles(edges) == ["fitadvisor.claude.alias -> fitadvisor.claude.quoting -> fitadvisor.claude.templates -> fitadvisor.claude.alias"]


@pytest.mark.parametrize("source", [
    "from fitadvisor.ollama.client import Client\nclient = Client('http://127.0.0.1:11434')\n",
    "from fitadvisor.ollama.client import Client as Ollama\nclient = Ollama('http://127.0.0.1:11434')\n",
    "from fitadvisor.ollama import client\nc = client.Client('http://127.0.0.1:11434')\n",
    "import fitadvisor.ollama.client as http\nc = http.Client('http://127.0.0.1:11434')\n",
])
def test_a_client_built_outside_the_flows_is_found(tmp_path, source):
    path = tmp_path / "rank.py"
    path.write_text(source)
    assert client_builders({"fitadvisor.recommend.rank": path}) == ["fitadvisor.recommend.rank"]
    assert client_builders({"fitadvisor.flows.recommend": path}) == []


def test_another_librarys_client_is_not_an_ollama_client(tmp_path):
    path = tmp_path / "registry.py"
    path.write_text("import httpx\nclient = httpx.Client(timeout=10)\n")
    assert client_builders({"fitadvisor.models.registry": path}) == []


TYPED = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fitadvisor.memory.estimate import Estimate\n"


@pytest.mark.parametrize("source, expected, at_runtime", [
    ("from fitadvisor.flows import apply\n", {"fitadvisor.flows.apply"}, {"fitadvisor.flows.apply"}),
    ("def f():\n    from fitadvisor.commands.options import ctx_option\n", {"fitadvisor.commands.options"}, {"fitadvisor.commands.options"}),
    ("import fitadvisor.cli\n", {"fitadvisor.cli"}, {"fitadvisor.cli"}),
    (TYPED, {"fitadvisor.memory.estimate"}, set()),
    ("from ..flows import apply\n", {"fitadvisor.flows.apply"}, {"fitadvisor.flows.apply"}),
    ("from .rank import Pick\n", {"fitadvisor.recommend.rank"}, {"fitadvisor.recommend.rank"}),
    ("from importlib import import_module\ndef f(name):\n    return import_module(f'fitadvisor.commands.{name}')\n",
     {"fitadvisor.commands"}, {"fitadvisor.commands"}),
])
def test_imports_are_found_at_module_level_inside_functions_and_for_types(tmp_path, source, expected, at_runtime):
    path = tmp_path / "m.py"
    path.write_text(source)
    # as if it were fitadvisor/recommend/m.py
    assert imports(path, set(modules()), module="fitadvisor.recommend.m") == expected
    assert imports(path, set(modules()), type_checking=False, module="fitadvisor.recommend.m") == at_runtime
