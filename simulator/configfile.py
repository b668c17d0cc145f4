"""Reading a YAML configuration file into a pydantic model, with one-line errors.

Scenario files and capacity files fail the same way for a user: a missing
file, bad YAML, an unknown or invalid field. Each becomes one ScenarioError
naming the file, the line and the dotted field, with what is allowed (exit 2).

Hostile files too: a file larger than MAX_FILE_BYTES is refused before it is
read, nesting deeper than MAX_DEPTH (literal or through aliases) and more
than MAX_NODES values once aliases are expanded are refused before anything
is built, and a key given twice in one mapping is refused at its second line
(docs/callers.md, "Limits").
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from simulator.errors import ScenarioError

#: Given an error's location and pydantic's error dict, what the field allows.
Allowed = Callable[[tuple[Any, ...], Any], str]

#: A configuration file's size, checked before it is read (the largest bundled one is ~2 KB).
MAX_FILE_BYTES = 256 * 1024
#: Nesting of mappings and lists, literal or through aliases (a scenario needs ~6).
MAX_DEPTH = 32
#: Values (scalars, mappings, lists, aliases) in a document, counted as it is read and
#: again with aliases expanded (a 200-turn scenario has ~2,000). Reading costs ~20 us
#: a value in pure-Python YAML, so this bounds the time to refuse a file to ~0.2 s.
MAX_NODES = 10_000
#: How much of a given value an error shows.
SHOWN_CHARS = 60


class _Refused(yaml.MarkedYAMLError):
    """A document the reader refuses: what, at which mark, and how to fix it."""

    def __init__(self, problem: str, mark: Any, fix: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.fix = fix


class _Loader(yaml.SafeLoader):
    """safe_load with a nesting limit (no RecursionError) and duplicate keys refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(_too_deep(), self.peek_event().start_mark, _FLATTEN)
            if self._nodes > MAX_NODES:
                raise _Refused(_too_many(""), self.peek_event().start_mark, _FEWER)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # e.g. 2001-13-14, a 5,000-digit int
            raise _Refused(f"invalid value: {exc}", node.start_mark, "fix the value") from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` may be overridden on purpose
                key = self.construct_object(key_node, deep=True)
                try:
                    line = first.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue  # unhashable: the base constructor says so
                if line != key_node.start_mark.line + 1:
                    raise _Refused(
                        f"duplicate key {shown(key)} (first on line {line})",
                        key_node.start_mark,
                        "keep one of the two",
                    )
        return super().construct_mapping(node, deep)


_FLATTEN = "flatten the structure (a scenario needs a few levels)"
_FEWER = "split the file, or use fewer values or aliases"


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels"


def _too_many(how: str) -> str:
    return f"more than {MAX_NODES:,} values{how}"


def _check_expanded(root: yaml.Node) -> None:
    """Refuse alias bombs and self-containing aliases before anything is constructed:
    walk the document as construction would, aliases expanded, within the limits."""
    count = 0

    def walk(node: yaml.Node, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise _Refused(_too_many(" once aliases are expanded"), node.start_mark, _FEWER)
        if depth > MAX_DEPTH:
            raise _Refused(_too_deep() + " (through aliases)", node.start_mark, _FLATTEN)
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, depth + 1)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(key, depth + 1)
                walk(value, depth + 1)

    walk(root, 1)


def shown(value: Any) -> str:
    """`value` as an error shows it: its repr, cut to SHOWN_CHARS."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def _too_large(size: int) -> str:
    return f"file too large ({size:,} bytes; the limit is {MAX_FILE_BYTES // 1024} KiB)"


def read_config(path: Path, example: str) -> str:
    """The file's text; ScenarioError when it is missing, unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(_too_large(size), where=str(path), fix="split it into files")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            "file not found", where=str(path), fix=f"check the path (e.g. {example})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read file: {exc}", where=str(path)) from None


def load_mapping(text: str, source: str, shape: str, example: str) -> tuple[dict[str, Any], Any]:
    """The YAML mapping in `text` and its node tree (for line numbers)."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(_too_large(len(text)), where=source, fix="split it into files")
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is not None:
            _check_expanded(root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fix = exc.fix if isinstance(exc, _Refused) else "fix the YAML syntax"
        what = problem if isinstance(exc, _Refused) else f"invalid YAML: {problem}"
        raise ScenarioError(what, where=f"{source}{at}", fix=fix) from None
    except (ValueError, OverflowError) as exc:  # a constructor's own error, outside a node
        raise ScenarioError(f"invalid value: {exc}", where=source, fix="fix the value") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise ScenarioError(shape, where=f"{source}:1", fix=f"see {example} for an example")
    return data, root


def field_error(
    exc: ValidationError, root: yaml.Node | None, source: str, allowed: Allowed
) -> ScenarioError:
    """The first validation error as one line: file:line field — what, allowed."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    where = f"{source}:{line_of(root, loc)} {dotted(loc) or '(top level)'}"
    return ScenarioError(describe(err, loc), where=where, fix=allowed(loc, err))


def dotted(loc: Sequence[Any]) -> str:
    """`turns[2].say` for pydantic's location tuple."""
    out: str = ""
    for raw in loc:
        part = raw if isinstance(raw, int) else str(raw)
        if isinstance(part, str) and (len(part) > 80 or not part.isprintable()):
            part = shown(part)  # a user's key: cut, newlines escaped
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else f"{part}")
    return out


def describe(err: Any, loc: tuple[Any, ...]) -> str:
    """What is wrong with the field, in a few words."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    given = err.get("input")
    got = "" if isinstance(given, dict | list) else f" (got {shown(given)})"
    return f"{err['msg']}{got}"


def model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """Walk field annotations along `loc` to find the model that holds the last key."""
    current: Any = model
    for part in loc:
        current = unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
    current = unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def unwrap(tp: Any) -> Any:
    """The type inside Annotated[...] and Optional[...]."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        real = [a for a in typing.get_args(tp) if a is not type(None)]
        return unwrap(real[0]) if len(real) == 1 else tp
    return tp


def line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int:
    """1-based line of the YAML node at `loc` (the deepest one that exists)."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
