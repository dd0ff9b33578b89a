"""kws's modules import each other in layers, without cycles.

The graph is read from the source with `ast`, so an import inside a function or under TYPE_CHECKING counts:
it is a dependency all the same, and a cycle hidden in a function is still a cycle a reader loops through.
"""

import ast
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# Lowest first: layer -> (its modules, the other layers it may import, why). A module is in the layer whose
# name is the longest prefix of its own; each may also import its own layer (the cycle test keeps that sane).
LAYERS = {
    "foundation": (
        ("kws", "kws.errors", "kws.atomic", "kws.config_dir", "kws.console"),
        (),
        "what every layer needs",
    ),
    "data": (("kws.data",), ("foundation",), "clips, splits and caches exist before any model"),
    "models": (
        ("kws.models",),
        ("foundation", "data"),
        "a network reads the data's audio and knows nothing of training",
    ),
    "evaluation": (
        ("kws.evaluation",),
        ("foundation", "data", "models"),
        "scores and reports; training logs them, so they cannot depend on training",
    ),
    "training": (
        ("kws.training",),
        ("foundation", "data", "models", "evaluation"),
        "the LightningModule, its checkpoints and callbacks, which log evaluation's figures",
    ),
    "ship": (
        ("kws.ship",),
        ("foundation", "data", "models", "evaluation", "training"),
        "exports and runs checkpoints; never synth: a command joins detection with synthetic negatives",
    ),
    "synth": (
        ("kws.synth",),
        ("foundation", "data"),
        "writes a data set in data's layout for any model; never ship",
    ),
    "demo": (
        ("kws.demo",),
        ("foundation", "data", "ship"),
        "kws-demo's web server: runs ship's detector on a microphone's stream; reads no command line",
    ),
    "commands": (
        ("kws.commands",),
        ("foundation", "data", "models", "evaluation", "training", "ship", "synth", "demo"),
        "argument handling and the joining of packages: it imports everything, nothing imports it",
    ),
}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of kws: dotted name -> (file, is a package's __init__)."""
    found = {}
    for path in sorted((REPO / "kws").rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _owner(name: str, modules: dict) -> str | None:
    """The kws module that `name` (a module or a name inside one) comes from."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.Import | ast.ImportFrom, module: str, package: bool, modules: dict) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per extra dot
        here = module.split(".") if package else module.split(".")[:-1]
        base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
    submodules = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules}
    # `from kws.synth import espeak` depends on the submodule; a name defined in an __init__, on the package
    names_from_base = len(submodules) < len(node.names)
    return submodules | ({base} if names_from_base else set())


def import_graph() -> dict[str, dict[str, str]]:
    """module -> {imported kws module: where ("kws/x.py:12")}."""
    modules = _modules()
    graph = {}
    for module, (path, package) in modules.items():
        edges = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, module, package, modules):
                    owner = _owner(target, modules)
                    if owner is not None and owner != module:
                        edges.setdefault(owner, f"{path.relative_to(REPO)}:{node.lineno}")
        graph[module] = edges
    return graph


def layer_of(module: str) -> str | None:
    """The layer with the longest name that is `module` or a package above it ("kws" is only kws itself)."""
    best, best_length = None, -1
    for layer, (names, _, _) in LAYERS.items():
        for name in names:
            inside = module == name or (name != "kws" and module.startswith(name + "."))
            if inside and len(name) > best_length:
                best, best_length = layer, len(name)
    return best


def entangled(graph: dict[str, dict[str, str]]) -> list[set[str]]:
    """The groups of modules that each reach one another through imports (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def shortest_cycle(graph: dict[str, dict[str, str]], group: set[str]) -> list[str]:
    start = min(group)
    came_from, queue = {start: None}, deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node]):
            if nxt == start:
                path = [node]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt in group and nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    graph = import_graph()
    assert "kws.training.checkpoint" in graph["kws.ship.runtime"]  # imported inside _from_checkpoint
    assert "kws.errors" in graph["kws.atomic"]
    modules = dict.fromkeys(["kws", "kws.errors", "kws.synth", "kws.synth.espeak", "kws.synth.dataset"])

    def targets(source: str, module: str, package: bool = False) -> set[str]:
        return _targets(ast.parse(source).body[0], module, package, modules)

    assert targets("from . import espeak", "kws.synth.dataset") == {"kws.synth.espeak"}
    assert targets("from ..errors import KWSError", "kws.synth.dataset") == {"kws.errors"}
    assert targets("from .espeak import Voice", "kws.synth", package=True) == {"kws.synth.espeak"}
    assert targets("from kws.synth import espeak, LOG", "kws.x") == {"kws.synth.espeak", "kws.synth"}
    toy = {"a": {"b": "", "d": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}, "e": {"a": ""}}
    assert entangled(toy) == [{"a", "b", "c", "d"}]
    assert shortest_cycle(toy, {"a", "b", "c", "d"}) == ["a", "d", "a"]


def test_no_import_cycles():
    graph = import_graph()
    found = []
    for group in entangled(graph):
        cycle = shortest_cycle(graph, group)
        steps = " -> ".join(f"{a} ({graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False))
        found.append(f"{steps} -> {cycle[0]}; all entangled: {', '.join(sorted(group))}")
    assert found == [], "import cycles:\n" + "\n".join(found)


def against_layering(graph: dict[str, dict[str, str]]) -> list[str]:
    """Each import of a layer the importer's row does not list, with where it is and the row's why."""
    found = []
    for module, edges in sorted(graph.items()):
        layer = layer_of(module)
        allowed = {layer, *LAYERS[layer][1]}
        for target, where in sorted(edges.items()):
            if layer_of(target) not in allowed:
                found.append(
                    f"{where}: {module} imports {target} ({layer_of(target)}); {layer}: {LAYERS[layer][2]}"
                )
    return found


def test_the_layering_check_catches_upward_and_sideways_imports():
    graph = {
        "kws.ship.detector": {"kws.synth.espeak": "kws/ship/detector.py:3"},
        "kws.data.cache": {"kws.commands.train": "kws/data/cache.py:5", "kws.errors": "kws/data/cache.py:6"},
        "kws.commands.synth": {
            "kws.synth.dataset": "kws/commands/synth.py:1",
            "kws.commands.hydra_command": "x:2",
        },
        "kws.evaluation.metrics": {"kws.training.module": "kws/evaluation/metrics.py:9"},
    }
    assert [line.split(": ")[0] for line in against_layering(graph)] == [
        "kws/data/cache.py:5",
        "kws/evaluation/metrics.py:9",
        "kws/ship/detector.py:3",
    ]


def test_every_module_imports_only_its_own_layer_and_those_below():
    graph = import_graph()
    homeless = sorted(module for module in graph if layer_of(module) is None)
    assert homeless == [], f"modules in no layer (add them to LAYERS): {homeless}"
    found = against_layering(graph)
    assert found == [], "imports against the layering:\n" + "\n".join(found)
