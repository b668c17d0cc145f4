"""`voxsim` command line: validate, run, compare, report, voices, agent serve.

Every failure voxsim expects ends as one line on stderr and an exit code
(0 SLOs met, 1 SLO missed, 2 bad input, 3 agent or harness failed); no
tracebacks for bad input. One nobody expected is exit 3 too: one line, and
its traceback in a log file (in the run directory when there is one).

The flags are in simulator/commands/parser.py, each command's work in a
module of simulator/commands/; this module parses, dispatches and turns
every failure into its line and exit code.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from simulator.commands import load, runs, scenarios, serve
from simulator.commands.parser import build_parser
from simulator.errors import EXIT_AGENT_FAILED, EXIT_OK, UsageError, VoxsimError

__all__ = ["build_parser", "main"]

#: Each subcommand's handler: parsed arguments in, exit code out.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": scenarios.validate,
    "voices": scenarios.voices,
    "report": runs.report,
    "run": runs.run,
    "compare": runs.compare,
    "load": load.load,
    "load-worker": load.load_worker,
    "capacity": load.capacity,
    "agent": serve.serve,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `voxsim` script."""
    args = build_parser().parse_args(argv)
    _heed_ctrl_c()
    if args.command in ("run", "load") and args.out is None:
        args.out = runs.default_out(args.command)  # known here: an internal error logs into it
    try:
        _check_out(getattr(args, "out", None))
        code = _dispatch(args)
    except VoxsimError as exc:
        print(f"voxsim: {exc.one_line()}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("voxsim: interrupted; rows written so far are kept", file=sys.stderr)
        code = 3
    except BrokenPipeError:
        code = EXIT_OK if _stdout_gone() else _internal_error(args)
    except Exception:
        code = _internal_error(args)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `voxsim voices | head -1`: the reader has all it wanted
        _stdout_gone()
    sys.exit(code)


def _heed_ctrl_c() -> None:
    """Let Ctrl-C (SIGINT) stop voxsim even when it inherited SIGINT ignored.

    A non-interactive shell starts background jobs (`voxsim load ... &`, a CI script
    run in the background) with SIGINT ignored, and children inherit that: Python and
    asyncio then never see the signal, and a load run's own SIGTERM handler (which
    re-sends SIGINT) could not stop it either, leaving locust and remote workers
    running. Every voxsim command has a graceful stop, so it takes SIGINT back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _check_out(out: Path | None) -> None:
    """--out must be a directory voxsim can create and write in; checked before
    anything starts, creating nothing (UsageError, exit 2)."""
    if out is None:
        return
    where = f"--out {out}"
    if out.exists() and not out.is_dir():
        raise UsageError("is a file, not a directory", where=where, fix="pass a directory path")
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(
            f"{parent} is a file, not a directory", where=where, fix="pass another path"
        )
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot create files in {parent}: {exc.strerror or exc}",
            where=where,
            fix="pass a directory you can write to",
        ) from None


def _stdout_gone() -> bool:
    """True when standard output is a pipe nobody reads any more; it then goes to
    /dev/null, so nothing more is written to it (and exit does not fail flushing it)."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
        if gone:
            os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        return gone
    except (OSError, ValueError):  # not a real file (e.g. captured by pytest)
        return False


def _internal_error(args: argparse.Namespace) -> int:
    """An exception nobody expected: one line naming a log file with its traceback; exit 3."""
    exc = sys.exc_info()[1]
    what = " ".join(f"{type(exc).__name__}: {exc}".split())
    what = what if len(what) <= 300 else what[:297] + "..."
    out = getattr(args, "out", None)
    try:
        if isinstance(out, Path) and out.is_dir():
            log = out / "voxsim-error.log"
            log.write_text(traceback.format_exc(), encoding="utf-8")
        else:
            fd, name = tempfile.mkstemp(prefix="voxsim-error-", suffix=".log")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(traceback.format_exc())
            log = Path(name)
        logged = f"traceback in {log}"
    except OSError as err:
        logged = f"the traceback could not be written ({err.strerror or err})"
    print(f"voxsim: internal error: {what} — {logged} (please report it)", file=sys.stderr)
    return EXIT_AGENT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    handler = COMMANDS.get(args.command)
    if handler is None:
        raise UsageError(f"unknown command {args.command}")
    return handler(args)


if __name__ == "__main__":
    main()
