"""Placeholders in stream templates: REST params and bodies, GraphQL variables.

One renderer for every protocol, so ``{id}`` (a parent context field),
``{bookmark}`` and ``{page_size}`` mean the same thing everywhere. A string
that is exactly one placeholder (``"{page_size}"``) becomes the value itself,
keeping its type: a GraphQL ``Int!`` variable gets an integer, an absent
bookmark a JSON null (and a REST parameter set to ``None`` is left out). A
placeholder inside a longer string is formatted into it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["render"]

_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """``template`` with its placeholders filled from ``values`` (recursively).

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
            return values[key]
        try:
            return template.format_map(values)
        except KeyError as exc:
            raise ValueError(f"template {template!r} needs context field {exc}") from exc
    if isinstance(template, Mapping):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template
