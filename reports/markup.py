"""Small HTML builders shared by the report's sections: escaping and tables.

Everything an agent or a scenario said is untrusted input: `e` escapes any
value for HTML text or attributes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any


def e(value: Any) -> str:
    """Escape any value for HTML text or attributes; None renders as a dash."""
    return "—" if value is None else html.escape(str(value), quote=True)


def as_dict(value: Any) -> dict[str, Any]:
    """Return `value` if it is a JSON object, else {} (rows are untrusted)."""
    return value if isinstance(value, dict) else {}


def table(headers: Iterable[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    """A table from (header, numeric?) pairs and already-built <tr> rows."""
    head = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in headers)
    body = "".join(rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def num_td(text: str, extra: str = "", title: str = "") -> str:
    """A right-aligned numeric cell; `text` is already escaped, `title` is escaped here."""
    cls = f"num {extra}".strip()
    t = f' title="{e(title)}"' if title else ""
    return f'<td class="{cls}"{t}>{text}</td>'
