"""Loaded by every Python process that tools/compile_census.py starts (PYTHONPATH): once JAX's
compiler module is imported, each XLA backend compile appends one line to
$JAXIK_CENSUS_DIR/<pid>.jsonl: the program's fingerprint (SHA-1 of its StableHLO text without
locations), name, seconds, and the test that was running (PYTEST_CURRENT_TEST)."""

import hashlib
import importlib.abc
import importlib.util
import json
import os
import sys
import time

TARGET = "jax._src.compiler"


def _record(compiler) -> None:
    original = compiler.backend_compile_and_load

    def timed(backend, module, *args, **kwargs):
        start = time.perf_counter()
        executable = original(backend, module, *args, **kwargs)
        seconds = time.perf_counter() - start
        text = module.operation.get_asm(enable_debug_info=False)
        line = {
            "fingerprint": hashlib.sha1(text.encode()).hexdigest(),
            "name": str(module.operation.attributes["sym_name"]).strip('"'),
            "seconds": seconds,
            "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        }
        path = os.path.join(os.environ["JAXIK_CENSUS_DIR"], f"{os.getpid()}.jsonl")
        with open(path, "a") as file:
            file.write(json.dumps(line) + "\n")
        return executable

    compiler.backend_compile_and_load = timed


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _record(module)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("JAXIK_CENSUS_DIR"):
    sys.meta_path.insert(0, _AfterImport())
