"""Expand a scenario's `matrix:` and `repeat:` into calls, each with its own seed.

`matrix` maps dotted field paths (e.g. `caller.noise.snr_db`, `turns.1.say`)
to lists of values (a mapping value is merged into the field, so settings that
go together can vary together: `caller: [{voice: en-us}, {engine: piper,
voice: joe}]`); the calls are the cartesian product in the order the keys
are written, each repeated `repeat` times. Call i is `NAME-iii` and renders
with a seed derived from (scenario seed, i), so `voxsim run FILE --only
NAME-007` replays exactly that call on its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from simulator.errors import ScenarioError
from simulator.scenario import Scenario


@dataclass(frozen=True)
class CallPlan:
    """One call of a scenario: its id, its concrete scenario, seed and matrix values."""

    call_id: str
    scenario: Scenario
    seed: int
    matrix: dict[str, Any]


def call_seed(scenario_seed: int, index: int) -> int:
    """The seed of call `index`: stable, and unrelated between neighbouring indices."""
    return int(np.random.SeedSequence([scenario_seed, index]).generate_state(1)[0])


def _set(data: Any, path: list[str], value: Any, key: str) -> None:
    node = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(
                    f"no list item {part!r} in {'.'.join(path[:i]) or 'scenario'}",
                    where=f"matrix.{key}",
                    fix=f"use an index 0..{len(node) - 1}",
                )
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last and isinstance(value, dict) and isinstance(node.get(part), dict):
                node[part] = {**node[part], **value}  # e.g. caller: {engine: piper, voice: joe}
            elif last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ScenarioError(
                f"{'.'.join(path[:i])} is not a mapping or list",
                where=f"matrix.{key}",
                fix="name a field inside the scenario, e.g. caller.noise.snr_db",
            )


def _variant(scenario: Scenario, overrides: dict[str, Any], source: str) -> Scenario:
    data = scenario.model_dump(exclude={"matrix", "repeat"}, exclude_unset=True)
    for key, value in overrides.items():
        if key.split(".")[0] in ("matrix", "repeat", "name"):
            raise ScenarioError(
                "this field cannot vary",
                where=f"{source} matrix.{key}",
                fix="vary caller/turns/...",
            )
        _set(data, key.split("."), value, key)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ScenarioError(
            f"{loc}: {err['msg']} (got {err.get('input')!r}) with {overrides}",
            where=f"{source} matrix",
            fix="fix the values listed under matrix:",
        ) from None


def expand(scenario: Scenario, source: str = "<scenario>") -> list[CallPlan]:
    """Every call the scenario asks for, in order (validated: bad values raise ScenarioError)."""
    keys = list(scenario.matrix)
    combos = list(itertools.product(*(scenario.matrix[k] for k in keys))) if keys else [()]
    calls: list[CallPlan] = []
    for combo in combos:
        overrides = dict(zip(keys, combo, strict=True))
        variant = _variant(scenario, overrides, source) if keys else scenario
        for _ in range(scenario.repeat):
            i = len(calls)
            calls.append(
                CallPlan(
                    call_id=f"{scenario.name}-{i:03d}",
                    scenario=variant,
                    seed=call_seed(scenario.seed, i),
                    matrix=overrides,
                )
            )
    return calls
