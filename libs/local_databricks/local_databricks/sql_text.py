"""SQL text outside its quotes and comments: split a script into statements, bind parameters.

Parameters are bound as literals in the text, not through Spark's `args`, because Sail accepts
parameter markers only in queries ("command with parameters" for INSERT, MERGE, CREATE ...),
while Databricks accepts them in any statement.
"""

from __future__ import annotations

import re
from typing import Any

_TOKENS = re.compile(
    r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|--[^\n]*|/\*.*?\*/|;|[^'\"`;/-]+|.",
    re.DOTALL,
)
_MARKER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _is_code(token: str) -> bool:
    return not token.startswith(("'", '"', "`", "--", "/*"))


def split_statements(script: str) -> list[str]:
    """The statements of a script, split at semicolons; comment-only statements are dropped."""
    statements, current, has_code = [], [], False
    for token in _TOKENS.findall(script):
        if token == ";":
            if has_code:
                statements.append("".join(current).strip())
            current, has_code = [], False
            continue
        current.append(token)
        has_code = has_code or (_is_code(token) and bool(token.strip()))
    if has_code:
        statements.append("".join(current).strip())
    return statements


def bind_parameters(statement: str, parameters: list[dict[str, Any]]) -> str:
    """Replace named parameter markers (:name) by typed literals; other markers stay."""
    if not parameters:
        return statement
    literals = {p["name"]: _literal(p.get("value"), p.get("type")) for p in parameters}

    def bind(match: re.Match[str]) -> str:
        return literals.get(match.group(1), match.group(0))

    return "".join(
        _MARKER.sub(bind, token) if _is_code(token) else token
        for token in _TOKENS.findall(statement)
    )


def _literal(value: str | None, sql_type: str | None) -> str:
    if value is None:
        return f"CAST(NULL AS {sql_type or 'STRING'})"
    text = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"CAST({text} AS {sql_type})" if sql_type else text
