"""The tree shows the architecture, and imports flow one way through it (docs/internals.md):

    envs  <-  jaxik.config  <-  jaxik.device  <-  jaxik.host  <-  the doors (jaxik.policy, ...)

(the config wing is jaxik.config and the learners' own settings it is made of,
jaxik.agent_settings)

Read from the source with ``ast``, so an import inside a function counts too."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    """The project modules ``path`` imports (jaxik.* and envs.*), anywhere in the file."""
    found = set()
    package = module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against this package
                base = ".".join([*package.split(".")[: -node.level], node.module])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").is_file() or (
                    ROOT / Path(*candidate.split("."))
                ).is_dir()
                found.add(candidate if is_module else base)
    return {name for name in found if name.split(".")[0] in ("jaxik", "envs")}


def modules() -> dict[str, set[str]]:
    files = [*sorted((ROOT / "jaxik").rglob("*.py")), *sorted((ROOT / "envs").rglob("*.py"))]
    return {module_name(path): imported(path) for path in files}


CONFIG_WING = ("jaxik.config", "jaxik.agent_settings")


def wing(name: str) -> str:
    if name.startswith("envs"):
        return "envs"
    if name in CONFIG_WING:
        return "config"
    for part in ("device", "host"):
        if name.startswith(f"jaxik.{part}"):
            return part
    return "doors" if name != "jaxik" else "package"


ALLOWED = {
    "envs": {"envs"},
    "config": {"envs", "config"},
    "device": {"envs", "config", "device"},
    "host": {"envs", "config", "device", "host"},
}


def test_imports_flow_one_way_between_the_wings():
    wrong = [
        f"{module} ({wing(module)}) imports {target} ({wing(target)})"
        for module, targets in modules().items()
        if wing(module) in ALLOWED
        for target in targets
        if wing(target) not in ALLOWED[wing(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_every_module_sits_in_a_wing_or_is_a_door():
    """The top of jaxik holds only the package, the configuration and the doors users come in
    by; everything else is in device/ or host/."""
    doors = sorted(m for m in modules() if wing(m) == "doors" and m.count(".") == 1)
    assert doors == [
        "jaxik.bench",
        "jaxik.compat",
        "jaxik.export",
        "jaxik.gym_envs",
        "jaxik.gym_registration",
        "jaxik.loggers",
        "jaxik.policy",
        "jaxik.render",
        "jaxik.reproduce",
        "jaxik.training",
    ]


def test_no_import_circle():
    graph = modules()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target == module or target not in graph:
                continue
            if state.get(target) == "open":
                raise AssertionError(" -> ".join([*path, module, target]))
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
