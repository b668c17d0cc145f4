"""One tree of voxsim errors, each mapped to an exit code at the CLI boundary.

Every error carries what went wrong, where, and how to fix it, so the CLI can
print one line and exit without a traceback (see DESIGN.md, exit codes).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SLO_MISSED = 1
EXIT_BAD_INPUT = 2
EXIT_AGENT_FAILED = 3


class VoxsimError(Exception):
    """Base of every error voxsim raises on purpose."""

    exit_code = EXIT_AGENT_FAILED

    def __init__(self, what: str, *, where: str = "", fix: str = "") -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Render as `where: what (fix)`, the single line the CLI prints."""
        parts = f"{self.where}: {self.what}" if self.where else self.what
        line = f"{parts} — {self.fix}" if self.fix else parts
        return line.replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever it quotes


class ScenarioError(VoxsimError):
    """A scenario file that cannot be read or does not match the schema."""

    exit_code = EXIT_BAD_INPUT


class UsageError(VoxsimError):
    """Bad command-line usage."""

    exit_code = EXIT_BAD_INPUT


class AgentError(VoxsimError):
    """The agent under test failed: could not connect, broke protocol, crashed."""

    exit_code = EXIT_AGENT_FAILED


class TransportError(AgentError):
    """The connection to the agent failed or dropped."""


class ProtocolError(AgentError):
    """The agent sent something the protocol does not allow."""


class HarnessError(VoxsimError):
    """voxsim itself failed (a bug or an exhausted resource)."""

    exit_code = EXIT_AGENT_FAILED
