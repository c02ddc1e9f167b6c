"""Names the machine a benchmark ran on, and keeps BENCHMARKS.md's sections up to date."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import jax


def describe() -> str:
    """E.g. "CPU: AMD EPYC 7B13, 2 cores (jax 0.10.2 cpu)" or the GPU's name."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        model = platform.processor() or "unknown CPU"
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.exists():
            found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
            model = found.group(1).strip() if found else model
        name = f"CPU: {model}, {os.cpu_count()} cores"
    else:
        name = f"{device.platform.upper()}: {device.device_kind}"
    return f"{name} (jax {jax.__version__}, {jax.default_backend()})"


def write_section(path: Path, key: str, body: str) -> None:
    """Replaces (or appends) the section between ``<!-- key -->`` markers in ``path``."""
    begin, end = f"<!-- begin {key} -->", f"<!-- end {key} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
