"""The SmolLM2 server fixture lives in tests/simulator/conftest.py (the judge tests use it too)."""

from tests.simulator.conftest import needs_smollm2

__all__ = ["needs_smollm2"]
