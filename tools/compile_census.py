"""Where a command's time goes in XLA compiling: every backend compile of every Python process
the command starts (pytest's workers and the subprocesses tests start included), how many
distinct programs, and how much time went into compiling a program already compiled elsewhere.

    python tools/compile_census.py -- python -m pytest -n 2 --dist worksteal -q

It prints the totals, the programs compiled more than once (by the time the repeats cost) and
the tests that compiled the most. Compiling is timed around XLA's backend compile only: tracing
and lowering are not in it. A program loaded from the project's cache of compiled programs is
not a compile and is not counted. The recording is a ``sitecustomize.py`` put first on
PYTHONPATH (tools/compile_census/), so a sitecustomize of your own is not loaded meanwhile.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SITE = Path(__file__).resolve().parent / "compile_census"


def run(command: list[str], directory: Path) -> int:
    path = os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))
    environment = dict(os.environ, PYTHONPATH=path, JAXIK_CENSUS_DIR=str(directory))
    return subprocess.call(command, env=environment)


def report(directory: Path, top: int = 15) -> None:
    compiles = [json.loads(line) for file in directory.glob("*.jsonl") for line in file.open()]
    total = sum(c["seconds"] for c in compiles)
    by_program = collections.defaultdict(list)
    for c in compiles:
        by_program[c["fingerprint"]].append(c)
    repeats = {k: sum(c["seconds"] for c in v[1:]) for k, v in by_program.items()}
    print(
        f"{len(compiles):,} compiles in {len({f.name for f in directory.glob('*.jsonl')})} "
        f"processes, {total:.0f} s; {len(by_program):,} distinct programs; "
        f"{sum(repeats.values()):.0f} s compiling programs compiled before"
    )
    print("\nprograms compiled more than once (seconds of repeats, times, name, tests):")
    for key in sorted(repeats, key=repeats.get, reverse=True)[:top]:
        if repeats[key] > 0:
            runs = by_program[key]
            tests = sorted({c["test"].split("::")[-1] or "(outside a test)" for c in runs})
            print(f"{repeats[key]:7.1f} {len(runs):3d}x {runs[0]['name']:<24} {'; '.join(tests)}")
    per_test = collections.Counter()
    for c in compiles:
        per_test[c["test"] or "(outside a test)"] += c["seconds"]
    print("\ntests by seconds of compiling:")
    for test, seconds in per_test.most_common(top):
        print(f"{seconds:7.1f} {test}")


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        raise SystemExit("usage: python tools/compile_census.py -- COMMAND [ARGS...]")
    command = argv[argv.index("--") + 1 :]
    with tempfile.TemporaryDirectory(prefix="jaxik-census-") as directory:
        code = run(command, Path(directory))
        report(Path(directory))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
