"""Which agent a run calls: a bundled kind voxsim starts itself, or a URL.

The rules of `voxsim run --agent` (also used by `voxsim load`): the flag wins, then
the scenario's `agent.url`, then its `agent.kind`; a malformed URL is a usage error
before anything starts.
"""

from __future__ import annotations

from simulator.errors import UsageError
from simulator.scenario import Scenario
from simulator.transports.registry import url_problem

#: Agents voxsim starts itself; `voxsim run --agent pipeline|e2e`.
BUNDLED_KINDS = ("pipeline", "e2e")


def bundled_args(kind: str, scenario: Scenario | None = None) -> list[str]:
    """`voxsim agent serve` flags for a bundled kind (e2e is served behind Realtime)
    and for the scenario's `agent.stt` / `agent.voice` when they are not the defaults."""
    flags = ["--transport", "realtime"] if kind == "e2e" else []
    if scenario is not None:
        if scenario.agent.stt != "domain":
            flags += ["--stt", scenario.agent.stt]
        if scenario.agent.voice != "espeak":
            flags += ["--voice", scenario.agent.voice]
    return flags


def agent_target(scenario: Scenario, override: str | None) -> str:
    """'pipeline'/'e2e' to start, or the URL to call (`override`: the --agent flag)."""
    target = override or scenario.agent.url or scenario.agent.kind
    if scenario.agent.kind in BUNDLED_KINDS and not override:
        target = scenario.agent.kind
    problem = url_problem(target) if target not in BUNDLED_KINDS else None
    if problem is None:
        return target
    raise UsageError(
        f"not an agent: {problem}",
        where="--agent" if override else "agent.url",
        fix="pass 'pipeline', 'e2e' (bundled) or your agent's URL",
    )
