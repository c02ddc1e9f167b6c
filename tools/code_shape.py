"""The shape of the code at a commit: modules and their lines, which package imports which, the
largest functions, and the places the structure issue (13) named.

    python tools/code_shape.py [COMMIT ...]      # default: HEAD; several commits side by side

Reads the commit with ``git show``, never the working tree, so any two commits compare.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter

PACKAGES = ("envs", "jaxik")
WATCHED = {
    "hand-kept hyperparams.FIELDS tuple": ("jaxik/hyperparams.py", "FIELDS = ("),
    "hand-written Adam step": ("jaxik/agents/common.py", "def adam_step"),
    "trainer branches on the algorithm": ("jaxik/trainer.py", 'algo in ("ddpg", "td3")'),
    "sharded axes found by field name": ("jaxik/sharding.py", "def _env_axis"),
    "config validation builds the env": ("jaxik/config.py", "envs.make("),
}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def sources(commit: str) -> dict[str, str]:
    paths = git("ls-tree", "-r", "--name-only", commit, "--", *PACKAGES).split()
    return {p: git("show", f"{commit}:{p}") for p in paths if p.endswith(".py")}


def imported_packages(tree: ast.AST) -> Counter:
    """(package, where) for each import of a project package: 'top' at module level (type-only
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
                names = [child.module]
            else:
                names = []
            for name in names:
                if name.split(".")[0] in PACKAGES:
                    found[(name.split(".")[0], where)] += 1
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
        package = path.split("/")[0]
        for (target, where), count in imported_packages(tree).items():
            if target != package:
                edges[(package, target, where)] += count
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                functions.append((own_lines(node), f"{path}:{node.name}"))
    watched = {name: needle in files.get(path, "") for name, (path, needle) in WATCHED.items()}
    return {
        "modules": {p: sum(1 for f in files if f.startswith(p + "/")) for p in PACKAGES},
        "lines": {
            p: sum(t.count("\n") for f, t in files.items() if f.startswith(p + "/"))
            for p in PACKAGES
        },
        "largest": {f: len(files[f].splitlines()) for f in files},
        "edges": edges,
        "functions": sorted(functions, reverse=True)[:8],
        "watched": watched,
    }


def main(commits: list[str]) -> None:
    for commit in commits or ["HEAD"]:
        s = shape(commit)
        print(f"## {commit} ({git('log', '-1', '--format=%h %s', commit).strip()[:70]})")
        for p in PACKAGES:
            print(f"- {p}/: {s['modules'][p]} modules, {s['lines'][p]:,} lines")
        biggest = sorted(s["largest"].items(), key=lambda kv: -kv[1])[:5]
        print("- largest modules: " + ", ".join(f"{f} ({n})" for f, n in biggest))
        for (source, target, where), count in sorted(s["edges"].items()):
            print(f"- {source} imports {target}: {count} ({where} level)")
        if not any(source == "envs" for source, _, _ in s["edges"]):
            print("- envs imports nothing from jaxik")
        print(
            "- largest functions (own lines, closures apart): "
            + ", ".join(f"{n} {f}" for n, f in s["functions"])
        )
        for name, present in s["watched"].items():
            print(f"- {name}: {'yes' if present else 'no'}")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
