"""Reading a YAML configuration file into a pydantic model, with one-line errors.

Scenario files and capacity files fail the same way for a user: a missing
file, bad YAML, an unknown or invalid field. Each becomes one ScenarioError
naming the file, the line and the dotted field, with what is allowed (exit 2).
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


def read_config(path: Path, example: str) -> str:
    """The file's text; ScenarioError when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            "file not found", where=str(path), fix=f"check the path (e.g. {example})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read file: {exc}", where=str(path)) from None


def load_mapping(text: str, source: str, shape: str, example: str) -> tuple[dict[str, Any], Any]:
    """The YAML mapping in `text` and its node tree (for line numbers)."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(
            f"invalid YAML: {problem}", where=f"{source}{at}", fix="fix the YAML syntax"
        ) from None
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
    for part in loc:
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
    shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
    return f"{err['msg']}{shown}"


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
