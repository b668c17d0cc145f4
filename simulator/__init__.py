"""voxsim's harness. Public API: `from simulator import run_scenario` (see simulator/api.py),
and `simulator.load_run(DIR)` for a run directory as pandas DataFrames (simulator/frames.py).

The re-export is lazy so `voxsim validate` and the pytest plugin's collection
do not pay for importing the whole run path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.api import BundledAgent, ScenarioResult, arun_scenario, run_scenario
    from simulator.frames import RunFrames, load_run

__all__ = [
    "BundledAgent",
    "RunFrames",
    "ScenarioResult",
    "arun_scenario",
    "load_run",
    "run_scenario",
]
_FRAMES = {"RunFrames", "load_run"}


def __getattr__(name: str) -> Any:
    if name in _FRAMES:
        from simulator import frames

        return getattr(frames, name)
    if name in __all__:
        from simulator import api

        return getattr(api, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
