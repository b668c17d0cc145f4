"""voxsim's harness. Public API: `from simulator import run_scenario` (see simulator/api.py).

The re-export is lazy so `voxsim validate` and the pytest plugin's collection
do not pay for importing the whole run path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.api import BundledAgent, ScenarioResult, arun_scenario, run_scenario

__all__ = ["BundledAgent", "ScenarioResult", "arun_scenario", "run_scenario"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from simulator import api

        return getattr(api, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
