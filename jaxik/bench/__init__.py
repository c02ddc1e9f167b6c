"""Benchmarks: ``python -m jaxik.bench env``. Speed is measured here, not in tests."""
