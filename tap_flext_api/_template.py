"""Placeholders in stream templates: REST params and bodies, GraphQL variables.

One renderer for every protocol, so ``{id}`` (a parent context field),
``{bookmark}`` (the bookmark as the stream sends it) and ``{page_size}`` mean
the same thing everywhere. For GraphQL variables (``keep_types``) a string
that is exactly one placeholder (``"{page_size}"``) becomes the value itself,
keeping its type: an ``Int!`` variable gets an integer. REST params and POST
bodies get text, as they always have. Either way a missing value (no
bookmark yet) leaves a lone placeholder ``None`` (a REST parameter set to
``None`` is not sent; a GraphQL variable becomes null) and an embedded one
empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["render"]

_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def render(template: Any, values: Mapping[str, Any], *, keep_types: bool = True) -> Any:
    """``template`` with its placeholders filled from ``values`` (recursively).

    Args:
        template: A string, or a mapping or list holding strings.
        values: The placeholder values.
        keep_types: A lone placeholder becomes the value itself (else its text).

    Raises:
        ValueError: a placeholder names a value that is not there.
    """
    if isinstance(template, str):
        if "{" not in template:
            return template
        whole = _WHOLE.match(template)
        if whole is not None:
            key = whole.group(1)
            if key not in values:
                raise ValueError(f"template {template!r} needs context field {key!r}")
            value = values[key]
            return value if keep_types or value is None else str(value)
        try:
            return template.format_map(_Text(values))
        except KeyError as exc:
            raise ValueError(f"template {template!r} needs context field {exc}") from exc
    if isinstance(template, Mapping):
        return {k: render(v, values, keep_types=keep_types) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values, keep_types=keep_types) for v in template]
    return template


class _Text(dict[str, Any]):
    """Values for ``str.format_map``: a missing value (``None``) formats as nothing."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__({k: "" if v is None else v for k, v in values.items()})

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)
