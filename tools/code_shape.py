"""The shape of the code at a commit: modules and lines per wing (envs; jaxik's configuration,
its compiled program in jaxik/device, the host loop in jaxik/host, and the doors users come in
by), the imports between wings, the largest modules and functions.

    python tools/code_shape.py [COMMIT ...]      # default: HEAD; several commits side by side

Reads the commit with ``git show``, never the working tree, so any two commits compare. A commit
from before jaxik/ had wings of its own has its flat modules sorted into the wing they moved to.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter

PACKAGES = ("envs", "jaxik")
WINGS = ("envs", "config", "device", "host", "doors")
FLAT = {  # module (or package) name in a flat jaxik/ -> the wing it belongs to
    **dict.fromkeys(
        ("trainer", "her", "networks", "normalizer", "evaluation", "hyperparams", "agents",
         "exploration"), "device",
    ),
    **dict.fromkeys(
        ("scan", "pieces", "device_program", "run", "executables", "sharding", "checkpoint",
         "outputs", "recorder", "summary", "statistics"), "host",
    ),
}  # fmt: skip


def wing(path: str) -> str:
    """The wing of a file (envs/x.py, jaxik/device/x.py, ...) or a module (jaxik.host.run)."""
    parts = path.removesuffix(".py").replace("/", ".").split(".")
    if parts[0] == "envs":
        return "envs"
    if len(parts) < 2 or parts[1] == "__init__":
        return "doors"
    if parts[1] in ("config", "device", "host"):
        return parts[1]
    if parts[1] == "agent_settings":  # the learners' own settings, which the config is made of
        return "config"
    return FLAT.get(parts[1], "doors")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def sources(commit: str) -> dict[str, str]:
    paths = git("ls-tree", "-r", "--name-only", commit, "--", *PACKAGES).split()
    return {p: git("show", f"{commit}:{p}") for p in paths if p.endswith(".py")}


def imported_wings(tree: ast.AST) -> Counter:
    """(wing, where) for each import of a project module: 'top' at module level (type-only
    imports under ``if TYPE_CHECKING`` excepted), 'function' inside a function body."""
    found: Counter = Counter()

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = (
                "function" if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else where
            )
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [f"{child.module}.{a.name}" for a in child.names]
            else:
                names = []
            for name in names:
                if name.split(".")[0] in PACKAGES and name != "jaxik":
                    found[(wing(name), where)] += 1
            visit(child, inner)

    visit(tree, "top")
    return found


def own_lines(function: ast.FunctionDef) -> int:
    """A function's lines less those of the functions defined inside it (a factory's closures
    count as functions of their own)."""
    nested = [
        n
        for n in ast.walk(function)
        if n is not function and isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    inner = set()
    for n in nested:
        inner.update(range(n.lineno, n.end_lineno + 1))
    return function.end_lineno - function.lineno + 1 - len(inner)


def shape(commit: str) -> dict:
    files = sources(commit)
    functions, edges = [], Counter()
    for path, text in files.items():
        tree = ast.parse(text)
        source = wing(path)
        for (target, where), count in imported_wings(tree).items():
            if target != source:
                edges[(source, target, where)] += count
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                functions.append((own_lines(node), f"{path}:{node.name}"))
    return {
        "modules": {w: sum(1 for f in files if wing(f) == w) for w in WINGS},
        "lines": {w: sum(t.count("\n") for f, t in files.items() if wing(f) == w) for w in WINGS},
        "largest": {f: len(files[f].splitlines()) for f in files},
        "edges": edges,
        "functions": sorted(functions, reverse=True)[:8],
    }


def main(commits: list[str]) -> None:
    for commit in commits or ["HEAD"]:
        s = shape(commit)
        print(f"## {commit} ({git('log', '-1', '--format=%h %s', commit).strip()[:70]})")
        for w in WINGS:
            print(f"- {w}: {s['modules'][w]} modules, {s['lines'][w]:,} lines")
        biggest = sorted(s["largest"].items(), key=lambda kv: -kv[1])[:5]
        print("- largest modules: " + ", ".join(f"{f} ({n})" for f, n in biggest))
        for (source, target, where), count in sorted(s["edges"].items()):
            upward = " (upward)" if WINGS.index(target) > WINGS.index(source) else ""
            print(f"- {source} imports {target}: {count} ({where} level){upward}")
        print(
            "- largest functions (own lines, closures apart): "
            + ", ".join(f"{n} {f}" for n, f in s["functions"])
        )
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
