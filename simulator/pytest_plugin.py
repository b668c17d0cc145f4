"""pytest plugin: `pytest scenarios/` runs scenario files as tests.

Item granularity (documented in README): **one test item per scenario file**
(per scenario x matrix cell once scenarios gain a matrix). The item makes the
calls once and judges every SLO the scenario sets; a miss fails the item with
one line per missed SLO naming the metric, its value, n and the limit. One
item per SLO would make the same calls several times or make items depend on
each other, which breaks `-x` and `-k`; the per-SLO view stays available in
the run directory's junit.xml (one testcase per scenario x SLO).

Options: `--voxsim-agent pipeline|ws://...` (default: the scenario's own
agent; the bundled one is started once per session and shared),
`--voxsim-out DIR` (run directories go to DIR/<scenario>), and
`--voxsim-baseline DIR` (compare each scenario with DIR/<scenario>, or DIR
itself when it is one run directory; a regression fails the item).

A YAML file is collected only when it is a mapping with `turns` or
`conversation` (a goal-driven caller), so other YAML in a test tree is left
alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.api import BundledAgent, ScenarioResult, run_scenario
from simulator.baseline import Tolerance
from simulator.errors import VoxsimError

_AGENT_KEY = pytest.StashKey["_SharedAgent"]()


class _SharedAgent:
    """Starts the bundled agent on first use and keeps it for the whole session."""

    def __init__(self) -> None:
        self.agent: BundledAgent | None = None

    def url(self) -> str:
        if self.agent is None:
            self.agent = BundledAgent()
        return self.agent.start()

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.agent = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("voxsim", "voxsim scenario files")
    group.addoption(
        "--voxsim-agent",
        default=None,
        help="'pipeline' (bundled, started once per session) or ws://HOST:PORT/PATH "
        "(default: each scenario's agent)",
    )
    group.addoption(
        "--voxsim-out",
        default="runs/pytest",
        help="directory for run directories, one per scenario (default runs/pytest)",
    )
    group.addoption(
        "--voxsim-baseline",
        default=None,
        help="baseline: a DIR of earlier --voxsim-out, or one run directory",
    )
    group.addoption("--voxsim-tolerance-ms", type=float, default=Tolerance.latency_ms)
    group.addoption("--voxsim-tolerance-rate", type=float, default=Tolerance.rate)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_AGENT_KEY] = _SharedAgent()


def pytest_unconfigure(config: pytest.Config) -> None:
    shared = config.stash.get(_AGENT_KEY, None)
    if shared is not None:
        shared.stop()


@pytest.fixture(scope="session")
def voxsim_agent(pytestconfig: pytest.Config) -> Iterator[str]:
    """URL of the agent under test: --voxsim-agent, else the bundled agent (one per session).

    Scenario items use the same shared agent, so a session starts it once.
    """
    chosen = pytestconfig.getoption("voxsim_agent")
    if chosen and chosen != "pipeline":
        yield chosen
    else:
        yield pytestconfig.stash[_AGENT_KEY].url()


def _is_scenario(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return True  # let collection report the broken file
    return isinstance(data, dict) and ("turns" in data or "conversation" in data)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and _is_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario YAML file; yields one ScenarioItem."""

    def collect(self) -> Iterator[ScenarioItem]:
        from simulator.scenario import load_scenario

        try:
            scenario = load_scenario(self.path)
        except VoxsimError as exc:
            raise self.CollectError(exc.one_line()) from None
        yield ScenarioItem.from_parent(self, name=scenario.name, kind=scenario.agent.kind)


class ScenarioFailure(Exception):
    """An SLO miss, failed call or regression; the message lists each one."""


class ScenarioItem(pytest.Item):
    """Runs one scenario file and judges its SLOs (and the baseline, if given)."""

    def __init__(self, *, kind: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.kind = kind
        self.result: ScenarioResult | None = None

    def _agent(self) -> str | None:
        chosen = self.config.getoption("voxsim_agent")
        if chosen and chosen != "pipeline":
            return str(chosen)
        if chosen == "pipeline" or self.kind == "pipeline":
            return self.config.stash[_AGENT_KEY].url()
        return None  # the scenario's own url

    def _baseline(self) -> Path | None:
        raw = self.config.getoption("voxsim_baseline")
        if not raw:
            return None
        root = Path(raw)
        mine = root / self.name
        return mine if (mine / "turns.jsonl").exists() else root

    def runtest(self) -> None:
        out = Path(self.config.getoption("voxsim_out")) / self.name
        if (out / "run.json").exists():
            shutil.rmtree(out)  # our own earlier run directory: rows would append
        tolerance = Tolerance(
            latency_ms=self.config.getoption("voxsim_tolerance_ms"),
            rate=self.config.getoption("voxsim_tolerance_rate"),
        )
        self.result = run_scenario(
            self.path, agent=self._agent(), out=out, baseline=self._baseline(), tolerance=tolerance
        )
        for r in self.result.slo_results:
            self.user_properties.append((f"{r['metric']}.value", r.get("value")))
            self.user_properties.append((f"{r['metric']}.n", r.get("n")))
            self.user_properties.append((f"{r['metric']}.limit", r.get("limit")))
        self.user_properties.append(("run_dir", str(out)))
        if not self.result.passed:
            raise ScenarioFailure("\n".join(self.result.failures()))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailure | VoxsimError):
            where = f"\nrun directory: {self.result.out_dir}" if self.result else ""
            return f"{excinfo.value}{where}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.name}"
