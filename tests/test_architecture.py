"""Dependency direction (app -> flows -> tasks -> songforge; deployments only name flows) and no import circles.

Every `import` and `from ... import` statement counts, at any depth: inside functions and `if TYPE_CHECKING:`
blocks too, since a lazy import that closes a circle still ties the two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("songforge", "tasks", "flows", "app")
FORBIDDEN = {  # what each layer may not import: the layers above it, and the orchestration tools for the library
    "songforge": ("prefect", "mlflow", "tasks", "flows", "app"),
    "tasks": ("flows", "app"),
    "flows": ("app",),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative ones made absolute; a name imported from a package
    that is one of its submodules counts as that submodule, a package as its __init__."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if submodule in modules else base))
    return found


def known(target: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names (its longest known prefix), or None for a third-party one."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def import_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """module -> the project modules it imports, and where each edge is written (file:line)."""
    modules, graph, where = all_modules(), {}, {}
    for name, path in modules.items():
        graph[name] = set()
        for line, target in imports_of(path, modules):
            to = known(target, modules)
            if to is not None:
                graph[name].add(to)
                where.setdefault((name, to), f"{path.relative_to(ROOT)}:{line}")
    return graph, where


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively (the graph is a few hundred modules deep at most)."""
    index, low, on_stack, stack, components, counter = {}, {}, set(), [], [], [0]

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One circle through the component's first module, shortest first (breadth-first inside the component)."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    raise AssertionError(f"no circle in {component}")


def circles(graph: dict[str, set[str]], where: dict[tuple[str, str], str]) -> list[str]:
    found = []
    for component in strongly_connected(graph):
        if len(component) > 1 or component[0] in graph[component[0]]:
            cycle = a_cycle(graph, component)
            steps = " -> ".join(f"{a} ({where[a, b]})" for a, b in zip(cycle, cycle[1:]))
            found.append(f"{len(component)} modules {component}: {steps} -> {cycle[-1]}")
    return found


def test_no_import_circles():
    graph, where = import_graph()
    found = circles(graph, where)
    for line in found:
        print(line)
    assert not found, "\n".join(found)


def test_no_circles_between_folders():
    """A folder (songforge/audio/, songforge/engine/, ...) counts as one module: audio/ may not use measure/ while
    measure/ uses audio/, even when no two files close a circle."""
    graph, where = import_graph()
    folded, folded_where = {}, {}
    for module, targets in graph.items():
        folder = _folder(module)
        folded.setdefault(folder, set())
        for target in targets:
            if _folder(target) != folder:
                folded[folder].add(_folder(target))
                folded_where.setdefault((folder, _folder(target)), where[module, target])
    found = circles(folded, folded_where)
    for line in found:
        print(line)
    assert not found, "\n".join(found)


def _folder(module: str) -> str:
    """songforge.audio.mix -> songforge.audio; songforge.params and flows.album stay as they are."""
    return ".".join(module.split(".")[:2])


def test_the_circle_finder_finds_circles_and_only_them():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}, "f": set()}
    where = {(a, b): f"{a}.py:1" for a, children in graph.items() for b in children}
    found = circles(graph, where)
    assert len(found) == 2, found
    assert found[0].startswith("3 modules ['a', 'b', 'c']: a (a.py:1) -> b (b.py:1) -> c (c.py:1) -> a"), found
    assert found[1].startswith("1 modules ['d']: d (d.py:1) -> d"), found


def test_imports_resolve_relative_lazy_and_type_checking_imports():
    graph, _ = import_graph()
    modules = all_modules()
    assert graph, "no modules found"
    # A lazy, relative import (inside a function) and a name that is a submodule both count.
    assert "app.local_api" in graph["app.album_run"]
    assert "flows.song" in graph["flows.album"]
    for name, path in modules.items():  # every edge is to a module that exists
        assert graph[name] <= set(modules), (name, graph[name] - set(modules))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_direction(package):
    modules = all_modules()
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {target}"
                 for name, path in modules.items() if name.split(".")[0] == package
                 for line, target in imports_of(path, modules) if target.split(".")[0] in FORBIDDEN[package]]
    assert not offenders, offenders


def test_deployments_hold_only_yaml_that_names_flows():
    files = [path for path in (ROOT / "deployments").rglob("*") if path.is_file()]
    assert files and all(path.suffix in (".yaml", ".yml") for path in files), files
    entrypoints = [line.split("entrypoint:")[1].strip() for path in files for line in path.read_text().splitlines()
                   if "entrypoint:" in line and not line.lstrip().startswith("#")]
    assert entrypoints and all(entry.startswith("flows/") for entry in entrypoints), entrypoints


def test_only_track_imports_mlflow():
    modules = all_modules()
    users = {str(path.relative_to(ROOT)) for name, path in modules.items() if name.split(".")[0] != "songforge"
             for _, target in imports_of(path, modules) if target.split(".")[0] == "mlflow"}
    assert users <= {"tasks/track.py"}, users
