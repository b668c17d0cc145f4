"""Asking an OpenAI-compatible chat endpoint for one checked JSON answer, boundedly.

Shared by the goal-driven caller's `llm` policy and the call judge. One
`AsyncOpenAI` client per (event loop, base_url, key) is shared by every user
(no SDK retries: `ask` retries). `ask` sends the messages with a json_schema
`response_format` (llama.cpp turns it into a grammar), hands every reply to
the caller's `check`, and retries an HTTP error, a timeout, or a reply the
check rejects (with the check's correction appended when the reply itself was
wrong), up to `retries` times; the whole exchange never takes longer than
(retries + 1) x timeout_s. Then it raises `NoValidReply` naming the last
problem: callers turn that into their own error (a caller error, a judge
error row), never a hang.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI

T = TypeVar("T")

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], AsyncOpenAI]]
_clients = weakref.WeakKeyDictionary()


class Endpoint(Protocol):
    """What `ask` needs of a scenario's endpoint block (e.g. `conversation.llm`)."""

    base_url: str
    model: str
    api_key_env: str
    temperature: float
    seed: int
    timeout_s: float
    retries: int
    max_tokens: int


#: (raw reply text, the accepted answer or None, what is wrong, a correction to send or None)
Checked = tuple[str, T | None, str, str | None]


class NoValidReply(Exception):
    """Every attempt failed; `problems` has one line per attempt."""

    def __init__(self, problems: list[str]) -> None:
        tried = len(problems)
        last = problems[-1] if problems else "no time left to ask"
        super().__init__(f"no valid reply after {tried} attempt{'' if tried == 1 else 's'}: {last}")
        self.problems = problems


def client(base_url: str, api_key: str) -> AsyncOpenAI:
    """This event loop's client for `base_url` (no SDK retries: `ask` retries)."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    if (base_url, api_key) not in per_loop:
        per_loop[(base_url, api_key)] = AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=0
        )
    return per_loop[(base_url, api_key)]


def completions(cfg: Endpoint) -> Any:
    """The chat-completions resource for `cfg` (its key from `api_key_env`, or a placeholder)."""
    api_key = os.environ.get(cfg.api_key_env) or "none"
    return client(cfg.base_url, api_key).chat.completions


async def ask(
    cfg: Endpoint,
    messages: list[dict[str, Any]],
    schema_name: str,
    schema: dict[str, Any],
    check: Callable[[Any], Checked[T]],
    tools: list[dict[str, Any]] | None = None,
) -> tuple[T, dict[str, Any]]:
    """One answer `check` accepts, and notes (raw, attempts, model_ms, problems).

    Raises NoValidReply after `cfg.retries` retries or when the time bound
    ((retries + 1) x timeout_s) is spent.
    """
    create = completions(cfg).create
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (cfg.retries + 1) * cfg.timeout_s
    sent = messages
    problems: list[str] = []
    started = time.perf_counter()
    extra: dict[str, Any] = {"tools": tools} if tools else {}
    for attempt in range(1, cfg.retries + 2):
        budget = min(cfg.timeout_s, deadline - loop.time())
        if budget <= 0.05:
            break
        try:
            reply = await asyncio.wait_for(
                create(
                    model=cfg.model,
                    messages=sent,
                    temperature=cfg.temperature,
                    seed=cfg.seed,
                    max_tokens=cfg.max_tokens,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": schema_name, "schema": schema},
                    },
                    timeout=budget + 1,
                    **extra,
                ),
                budget,
            )
        except (TimeoutError, openai.APITimeoutError):
            problems.append(f"no reply within {budget:.1f} s")
            continue
        except openai.APIStatusError as exc:
            problems.append(f"HTTP {exc.status_code}: {short(exc.message)}")
            continue
        except Exception as exc:  # noqa: BLE001 - connection errors, a body that is not JSON
            problems.append(f"{type(exc).__name__}: {short(str(exc))}")
            continue
        raw, answer, problem, correction = check(reply)
        if answer is not None:
            notes = {
                "raw": raw,
                "attempts": attempt,
                "model_ms": round((time.perf_counter() - started) * 1000, 1),
                **({"problems": problems} if problems else {}),
            }
            return answer, notes
        problems.append(problem)
        if correction:
            sent = [
                *messages,
                {"role": "assistant", "content": raw[:400] or "(nothing)"},
                {"role": "system", "content": correction},
            ]
    raise NoValidReply(problems)


def content_of(reply: Any) -> tuple[str | None, str]:
    """(the first choice's text, '') or (None, what is wrong with the reply)."""
    choices = getattr(reply, "choices", None)
    if not choices:
        return None, "a reply without choices"
    message = choices[0].message
    if getattr(message, "refusal", None):
        return None, f"refused: {short(message.refusal)}"
    content = (message.content or "").strip()
    if not content:
        return None, "empty content"
    return content, ""


def is_local(base_url: str) -> bool:
    """True for a server on this machine (loopback)."""
    host = urlsplit(base_url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def loads(text: str) -> Any:
    """JSON from a model's text (a ```json fence is tolerated), or None."""
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        return json.loads(text)
    except ValueError:
        return None


def short(text: str, n: int = 80) -> str:
    """`text` on one line, cut to `n` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
