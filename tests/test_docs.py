"""The documentation's code: every Python snippet in README.md, BENCHMARKS.md and docs/ parses
and imports only what exists; every documented ``python train.py`` and ``python -m jaxik.bench``
command line parses and its configuration validates (what they check before compiling, which
takes seconds; running them takes minutes to hours); every documented ``python -m MODULE`` and
``python tools/...`` exists. A renamed setting, a moved config file or a removed option breaks
this test rather than the reader's first try."""

import ast
import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from jaxik.bench.__main__ import make_parser as bench_parser
from jaxik.host import scan

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
OPTIONAL = {"stable_baselines3", "onnxruntime", "brax", "panda_gym", "wandb", "onnx"}
"""Imported by snippets, installed with an extra (compare, export) or a dependency's part that
importing would slow; their presence is not the docs' to check."""


def blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), re.S | re.M)


def snippets() -> list:
    return [
        pytest.param(code, id=f"{page.name}-{i}")
        for page in PAGES
        for i, code in enumerate(blocks(page, "python"))
    ]


def is_template(command: str) -> bool:
    """A command with a placeholder (``SUBCOMMAND``, ``RUN_DIR``) or naming a module alone."""
    parts = words(command)
    return any(re.fullmatch(r"[A-Z][A-Z_]+", word) for word in parts) or (
        parts[1:2] == ["-m"] and len(parts) < 4
    )


def command_lines() -> list[tuple[str, str]]:
    """(page, command) for each ``python ...`` line of the bash blocks (continuations joined)
    and each inline code span that starts with ``python ``; templates left out."""
    found = []
    for page in PAGES:
        for block in blocks(page, "bash"):
            for line in block.replace("\\\n", " ").splitlines():
                if line.strip().startswith("python "):
                    found.append((page.name, line.strip()))
        for span in re.findall(r"`(python [^`]+)`", page.read_text()):
            found.append((page.name, span))
    return [(page, command) for page, command in found if not is_template(command)]


def words(command: str) -> list[str]:
    """The command's words; "..." (the docs' "and the rest, as above") is left out."""
    return [word for word in shlex.split(command, comments=True) if word != "..."]


@pytest.mark.parametrize("code", snippets())
def test_python_snippets_parse_and_import_what_exists(code):
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in OPTIONAL:
                    assert importlib.util.find_spec(alias.name) is not None, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module.split(".")[0] not in OPTIONAL:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(
                    f"{node.module}.{alias.name}"
                ), f"{node.module}.{alias.name}"


def train_commands() -> list:
    return [
        pytest.param(command, id=f"{page}-{command[:60]}")
        for page, command in command_lines()
        if words(command)[:2] == ["python", "train.py"]
    ]


def bench_commands() -> list:
    return [
        pytest.param(command, id=f"{page}-{command[:60]}")
        for page, command in command_lines()
        if words(command)[:3] == ["python", "-m", "jaxik.bench"]
    ]


def train_module():
    spec = importlib.util.spec_from_file_location("train_cli", ROOT / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("command", train_commands())
def test_documented_train_commands_are_valid(command, monkeypatch):
    monkeypatch.chdir(ROOT)
    cli = train_module()
    args = cli.make_parser().parse_args(words(command)[2:])
    if args.resume is None:  # a resume names a folder that a run before it made
        cli.load_scan(args)


@pytest.mark.parametrize("command", bench_commands())
def test_documented_bench_commands_are_valid(command, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = bench_parser().parse_args(words(command)[3:])
    config = getattr(args, "config", None)
    if config is not None:
        scan.load(Path(config), getattr(args, "overrides", []) or [])


def test_documented_modules_and_tools_exist():
    named = set()
    for _, command in command_lines():
        parts = words(command)
        if parts[1:2] == ["-m"]:
            named.add(("module", parts[2]))
        elif parts[1].endswith(".py"):
            named.add(("file", parts[1]))
    assert ("module", "jaxik.bench") in named and ("file", "train.py") in named
    for kind, name in sorted(named):
        if kind == "module":
            assert importlib.util.find_spec(name) is not None, name
        else:
            assert (ROOT / name).is_file(), name


def test_the_commands_are_found():
    """The extraction itself: the README's first training commands are among them."""
    assert len(train_commands()) >= 5 and len(bench_commands()) >= 20
