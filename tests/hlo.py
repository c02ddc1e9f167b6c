"""What a lowered program calls: the check behind the no-LAPACK rule (tests/test_no_hang.py)."""

import re


def lapack_calls(text: str) -> list[str]:
    """The LAPACK kernels a lowered program's StableHLO text (``Lowered.as_text()``) calls."""
    return re.findall(r"custom_call @(\w*lapack\w*)", text)
