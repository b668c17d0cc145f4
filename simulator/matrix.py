"""Expand a scenario's `matrix:` and `repeat:` into calls, each with its own seed.

`matrix` maps dotted field paths (e.g. `caller.noise.snr_db`, `turns.1.say`)
to lists of values (a mapping value is merged into the field, so settings that
go together can vary together: `caller: [{voice: en-us}, {engine: piper,
voice: joe}]`); the calls are the cartesian product in the order the keys
are written, each repeated `repeat` times. Call i is `NAME-iii` and renders
with a seed derived from (scenario seed, i), so `voxsim run FILE --only
NAME-007` replays exactly that call on its own.

The size of the expansion is counted before anything is built: more than
MAX_CELLS combinations (each is validated as a whole scenario) or MAX_CALLS
calls is refused (docs/callers.md, "Limits").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from simulator.configfile import dotted, line_of, shown
from simulator.errors import ScenarioError
from simulator.scenario import Scenario

#: Matrix combinations in one scenario file (each is validated as a whole scenario).
MAX_CELLS = 1_000
#: Calls in one scenario file: combinations x repeat (repeat alone allows as many).
MAX_CALLS = 10_000


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


def count_calls(scenario: Scenario) -> int:
    """The calls the scenario asks for (matrix combinations x repeat), counted, not built."""
    return math.prod(len(values) for values in scenario.matrix.values()) * scenario.repeat


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"


def _check_size(scenario: Scenario, where: str) -> None:
    """Refuse a matrix too large to build, before building any of it."""
    sizes = [len(values) for values in scenario.matrix.values()]
    cells = math.prod(sizes)
    calls = cells * scenario.repeat
    shape = " x ".join(str(n) for n in sizes[:12]) + (" x ..." if len(sizes) > 12 else "")
    if scenario.repeat > 1:
        shape += f" x repeat {scenario.repeat}"
    fix = "use fewer values, or split the file into several"
    if calls > MAX_CALLS:
        raise ScenarioError(
            f"expands to {_count(calls)} calls ({shape}); the limit is {MAX_CALLS:,}",
            where=where,
            fix=fix,
        )
    if cells > MAX_CELLS:
        raise ScenarioError(
            f"has {_count(cells)} combinations ({shape}); the limit is {MAX_CELLS:,}",
            where=where,
            fix=fix,
        )


def _set(data: Any, path: list[str], value: Any, key: str, where: str) -> None:
    node = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(
                    f"no list item {shown(part)} in {'.'.join(path[:i]) or 'scenario'}",
                    where=where,
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
                where=where,
                fix="name a field inside the scenario, e.g. caller.noise.snr_db",
            )


class _Lines:
    """`file:line matrix.KEY[i]` of a matrix key or value (no line without the YAML nodes)."""

    def __init__(self, source: str, root: yaml.Node | None) -> None:
        self.source = source
        self.root = root

    def __call__(self, *loc: Any) -> str:
        line = f":{line_of(self.root, ('matrix', *loc))}" if self.root is not None else ""
        return f"{self.source}{line} {dotted(('matrix', *loc))}"


def _variant(
    scenario: Scenario, overrides: dict[str, Any], index: dict[str, int], at: _Lines
) -> Scenario:
    data = scenario.model_dump(exclude={"matrix", "repeat"}, exclude_unset=True)
    for key, value in overrides.items():
        if key.split(".")[0] in ("matrix", "repeat", "name"):
            raise ScenarioError(
                "this field cannot vary", where=at(key), fix="vary caller/turns/..."
            )
        _set(data, key.split("."), value, key, at(key))
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        culprit = _key_of(loc, list(overrides))
        where = at(culprit, index[culprit]) if culprit is not None else at()
        given = err.get("input")
        got = "" if isinstance(given, dict | list) else f" (got {shown(given)})"
        others = {k: v for k, v in overrides.items() if k != culprit}
        combined = f" with {shown(others)}" if others else ""
        raise ScenarioError(
            f"{dotted(loc) or 'scenario'}: {err['msg']}{got}{combined}",
            where=where,
            fix="fix the values listed under matrix:",
        ) from None


def _key_of(loc: tuple[Any, ...], keys: list[str]) -> str | None:
    """The matrix key whose values the failing field `loc` comes from (longest shared path)."""
    path = [str(p) for p in loc]
    best, best_len = None, 0
    for key in keys:
        parts = key.split(".")
        n = min(len(parts), len(path))
        if parts[:n] == path[:n] and n > best_len:
            best, best_len = key, n
    return best


def expand(
    scenario: Scenario, source: str = "<scenario>", root: yaml.Node | None = None
) -> list[CallPlan]:
    """Every call the scenario asks for, in order (validated: bad values raise ScenarioError).

    `root`, the file's YAML nodes, lets errors name the line of the matrix value.
    """
    at = _Lines(source, root)
    _check_size(scenario, at())
    keys = list(scenario.matrix)
    calls: list[CallPlan] = []
    for picks in itertools.product(*(range(len(scenario.matrix[k])) for k in keys)):
        index = dict(zip(keys, picks, strict=True))
        overrides = {k: scenario.matrix[k][i] for k, i in index.items()}
        variant = _variant(scenario, overrides, index, at) if keys else scenario
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
