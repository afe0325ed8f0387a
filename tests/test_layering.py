"""Imports run one way: down the floors of :data:`FLOORS`, no cycles between modules or rooms, never into the CLI.

Every ``import`` statement of the package counts, also those inside functions (a lazy import is still
a dependency, and a cycle through one breaks as soon as someone moves it to the top). A room is a
top-level module or folder of ``jetracer/``; a module may import its own floor or lower ones. Then every
module is imported in a fresh interpreter, alone, to see that it imports and pulls in no ``jetracer.cli``.
"""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "jetracer")

# None left; an entry here would have to be a cycle that still exists (the test fails when it is gone):
KNOWN_CYCLES = []  # type: list
KNOWN_CLI_IMPORTS = set()  # type: set
ENTRY_POINTS = {"jetracer.__main__"}                          # `python -m jetracer` is the CLI


def modules():
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path[:-3], ROOT).replace(os.sep, ".")
                out[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return out


def imports_of(module, path, known):
    """The jetracer modules ``module`` imports anywhere in its file."""
    return set(target for _, target in import_lines(module, path, known))


def import_lines(module, path, known):
    """``(line, jetracer module)`` of every import statement in ``module``'s file, inside functions too."""
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target] + ["%s.%s" % (target, alias.name) for alias in node.names]
        for target in targets:
            while target and target not in known:  # `import jetracer.sim.world` -> that module
                target = target.rpartition(".")[0] if target.count(".") > 1 else ""
            if target and target != module and target != "jetracer":
                found.add((node.lineno, target))
    return found


def graph():
    known = modules()
    return dict((m, imports_of(m, p, known)) for m, p in known.items())


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(component)
    return out


# Lowest first; a module may import only rooms on its own floor or lower (docs/architecture.md draws them).
# "jetracer" is the package face (jetracer/__init__.py: ``jetracer.Racecar``).
FLOORS = [
    ("errors", "compute", "atomic", "bounded_file", "runtime", "pixels", "yaml_file", "schema", "throttle_ramp",
     "steering_law", "hardware"),
    ("profiles", "racecar", "state", "dataset", "pilot", "jetracer"),
    ("config_schema", "config_edit", "config", "display"),
    ("car", "services"),
    ("sim",),
    ("sim_mode", "camera", "nvidia_racecar"),
    ("driving", "learning"),
    ("notebook", "compat", "apps"),
    ("cli", "__main__"),
]
FLOOR = dict((room, n) for n, rooms in enumerate(FLOORS) for room in rooms)


def room_of(module):
    """``jetracer.sim.world`` -> ``sim``; the package face ``jetracer`` is a room of its own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def where(module, line):
    return "%s:%d" % (os.path.relpath(modules()[module], ROOT), line)


def all_imports():
    """``(module, line, imported module)`` for every import statement of the package."""
    known = modules()
    return [(m, line, target) for m, p in sorted(known.items()) for line, target in sorted(import_lines(m, p, known))]


def upward_imports(imports):
    """The imports (``(module, line, target)``) whose target stands on a higher floor than the importer."""
    return [(m, line, t) for m, line, t in imports if FLOOR[room_of(t)] > FLOOR[room_of(m)]]


def room_cycles(imports):
    """Cycles between rooms: ``[(rooms, [(module, line, target) of the imports between them])]``."""
    edges = {}
    for m, _, t in imports:
        if room_of(m) != room_of(t):
            edges.setdefault(room_of(m), set()).add(room_of(t))
            edges.setdefault(room_of(t), set())
    return [(sorted(c), [(m, line, t) for m, line, t in imports if room_of(m) in c and room_of(t) in c
                         and room_of(m) != room_of(t)]) for c in cycles(edges)]


def test_every_room_stands_on_a_floor():
    rooms = set(room_of(m) for m in modules())
    assert not rooms - set(FLOOR), "give these a floor in FLOORS (and docs/architecture.md): %s" % sorted(rooms - set(FLOOR))
    assert not set(FLOOR) - rooms, "gone: remove %s from FLOORS" % sorted(set(FLOOR) - rooms)


def test_no_import_runs_up_a_floor():
    up = ["%s imports %s (floor %d -> %d)" % (where(m, line), t, FLOOR[room_of(m)], FLOOR[room_of(t)])
          for m, line, t in upward_imports(all_imports())]
    assert not up, "imports that run up a floor:\n" + "\n".join(up)


def test_no_cycle_between_rooms():
    found = ["%s: %s" % (" <-> ".join(rooms), "; ".join("%s imports %s" % (where(m, line), t) for m, line, t in edges))
             for rooms, edges in room_cycles(all_imports())]
    assert not found, "cycles between rooms (function-level imports count):\n" + "\n".join(found)


def test_the_floor_checks_see_an_import_that_runs_up_and_a_cycle():
    imports = [("jetracer.hardware.bench", 44, "jetracer.car"), ("jetracer.car", 30, "jetracer.hardware"),
               ("jetracer.cli.main", 3, "jetracer.apps.demo")]
    assert upward_imports(imports) == [("jetracer.hardware.bench", 44, "jetracer.car")]
    assert room_cycles(imports) == [(["car", "hardware"], imports[:2])]


def test_the_analysis_sees_imports_inside_functions():
    edges = graph()
    assert "jetracer.pilot.torch_backend" in edges["jetracer.pilot.load"], "pilot's lazy backend imports"
    assert "jetracer.pilot.base" in edges["jetracer.pilot.torch_backend"]
    assert "jetracer.cli.main" in edges["jetracer.__main__"]


def test_no_import_cycles():
    found = cycles(graph())
    unexpected = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not unexpected, "import cycles: %s" % unexpected
    for known in KNOWN_CYCLES:
        assert known in found, "the cycle %s is gone: remove it from KNOWN_CYCLES" % sorted(known)


def test_the_library_never_imports_the_cli():
    edges = graph()
    found = set((m, d) for m, deps in edges.items() for d in deps
                if d.startswith("jetracer.cli") and not m.startswith("jetracer.cli") and m not in ENTRY_POINTS)
    assert found <= KNOWN_CLI_IMPORTS, "library modules importing the CLI: %s" % sorted(found - KNOWN_CLI_IMPORTS)
    assert found == KNOWN_CLI_IMPORTS, "fixed: remove %s from KNOWN_CLI_IMPORTS" % sorted(KNOWN_CLI_IMPORTS - found)


CHECK = """
import importlib, json, sys
out = {"failed": {}, "cli": {}}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as e:
        out["failed"][name] = "%s: %s" % (type(e).__name__, e)
    cli = sorted(m for m in sys.modules if m == "jetracer.cli" or m.startswith("jetracer.cli."))
    if cli:
        out["cli"][name] = cli
        break
print(json.dumps(out))
"""

# stand-ins that are imported under upstream's names (jetcam, the click widget), not as jetracer modules
SKIP = ("jetracer.compat.fallbacks.",)


def test_every_module_imports_in_a_fresh_interpreter_without_pulling_in_the_cli():
    import json

    library = sorted(m for m in modules() if not m.startswith(SKIP + ("jetracer.cli",)) and m not in ENTRY_POINTS)
    proc = subprocess.run([sys.executable, "-c", CHECK] + library, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["failed"] == {}, out["failed"]
    assert out["cli"] == {}, "importing this pulls in the CLI: %s" % out["cli"]


@pytest.mark.parametrize("module", ["jetracer.config", "jetracer.config_schema", "jetracer.pilot.base"])
def test_base_modules_import_no_implementation(module):
    edges = graph()
    assert not any(d.startswith(("jetracer.pilot.torch_backend", "jetracer.pilot.onnx_backend",
                                 "jetracer.pilot.tensorrt_backend", "jetracer.driving", "jetracer.sim",
                                 "jetracer.camera")) for d in edges[module]), edges[module]
