"""Declarative stream classes: one subclass per configured stream.

The SDK links parents and children by class (``parent_stream_type``), so each
:class:`~tap_flext_api._settings.StreamDefinition` gets its own small subclass.
"""

from __future__ import annotations

import re

from tap_flext_api._settings import StreamDefinition
from tap_flext_api.client import FlextApiStream
from tap_flext_api.graphql._stream import GraphqlStream

__all__ = ["ConfiguredGraphqlStream", "ConfiguredStream", "WmsEntityStream", "stream_class"]


class ConfiguredStream(FlextApiStream):
    """A stream of the generic profile, defined entirely by config."""


class ConfiguredGraphqlStream(GraphqlStream):
    """A ``protocol: graphql`` stream of the generic profile, defined entirely by config."""


class WmsEntityStream(FlextApiStream):
    """An Oracle WMS LGF v10 entity: ``next_page`` paging, ``results``, ``mod_ts__gte``."""


def stream_class(
    definition: StreamDefinition,
    parent: type[FlextApiStream] | None = None,
    base: type[FlextApiStream] = ConfiguredStream,
) -> type[FlextApiStream]:
    """A new subclass of ``base`` bound to ``definition`` (and its parent class)."""
    name = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", definition.name) if p)
    attrs = {
        "definition": definition,
        "name": definition.name,
        "parent_stream_type": parent,
        "__module__": __name__,
        "__doc__": f"The '{definition.name}' stream.",
    }
    return type(f"{name or 'Api'}Stream", (base,), attrs)
