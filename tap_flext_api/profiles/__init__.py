"""API profiles: conventions of a known API turned into stream definitions."""

from tap_flext_api.profiles._oracle_wms import (
    FK_SCHEMA,
    describe_to_schema,
    parse_entity_list,
    wms_field_schema,
    wms_stream_definitions,
)

__all__ = [
    "FK_SCHEMA",
    "describe_to_schema",
    "parse_entity_list",
    "wms_field_schema",
    "wms_stream_definitions",
]
