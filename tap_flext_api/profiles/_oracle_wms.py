"""The Oracle WMS Cloud (LGF v10) profile: its conventions as stream definitions.

LGF conventions applied here:

- entities are listed by ``GET {prefix}/entity/`` and described by
  ``GET {prefix}/entity/{name}/describe/``;
- data is read with ``?page_size=N&page_mode=sequenced``, following the
  ``next_page`` URL, records under ``results``; or, with the tap's
  ``page_mode: paged``, with ``page_mode=paged&page=K``, whose first answer's
  ``page_count`` lets the other pages be read concurrently;
- results are ordered by the replication key (``ordering=mod_ts``), so the
  stream is sorted and an interrupted run can resume from its bookmark;
- a list request whose filters match nothing answers ``404`` (LGF documents
  this), so 404 is a skipped status meaning "no data";
- the incremental filter is ``mod_ts__gte=<bookmark minus overlap minutes>``;
  a time window (``partition_window``) is ``mod_ts__gte=<start>&mod_ts__lt=<end>``;
- foreign keys arrive as ``{id, key, url}`` objects and stay objects.

Assumption on ``company_code`` and ``facility_code``: LGF already limits every
request to the user's eligible companies and facilities, and narrows further
with related-resource filters (``relation_id__related_field=value``, per the
LGF "Resource Result Set Filtering" documentation). The tap therefore sends
``company_id__code=<company_code>`` and ``facility_id__code=<facility_code>``
on entities whose describe lists a ``company_id`` / ``facility_id`` foreign
key; an entity without the field (``order_dtl``) is not filtered, because the
API rejects filters on unknown fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flext_infra.observability import get_logger
from tap_flext_api._settings import StreamDefinition, TapSettings

log = get_logger("tap_flext_api.oracle_wms")

#: ``{id, key, url}``: how LGF nests a foreign key.
FK_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "id": {"type": ["integer", "null"]},
        "key": {"type": ["string", "null"]},
        "url": {"type": ["string", "null"]},
    },
}

_TYPES: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "int": {"type": "integer"},
    "bigint": {"type": "integer"},
    "smallint": {"type": "integer"},
    "autofield": {"type": "integer"},
    "decimal": {"type": "number"},
    "number": {"type": "number"},
    "numeric": {"type": "number"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "timestamp": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "string": {"type": "string"},
    "char": {"type": "string"},
    "varchar": {"type": "string"},
    "text": {"type": "string"},
    "object": {"type": "object"},
    "json": {"type": "object"},
    "array": {"type": "array"},
    "list": {"type": "array"},
}
_FK_TYPES = {"fk", "foreignkey", "foreign_key", "relation"}


def wms_field_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one described WMS field.

    ``spec`` carries ``type`` and optionally ``nullable``, ``length`` and
    ``is_fk``. Decimals stay plain numbers: ``multipleOf`` on binary floats
    rejects valid values, and the target keeps NUMBER unconstrained anyway.
    Unknown types become strings (and are logged), because a string column
    never rejects a value.
    """
    kind = str(spec.get("type") or "string").strip().lower()
    if kind in _FK_TYPES or spec.get("is_fk"):
        schema = {k: (dict(v) if isinstance(v, dict) else v) for k, v in FK_SCHEMA.items()}
        if spec.get("nullable", True) is False:
            schema["type"] = ["object"]
        return schema
    base = _TYPES.get(kind)
    if base is None:
        log.warning("wms.unknown_field_type", field=spec.get("name"), type=kind)
        base = {"type": "string"}
    schema = dict(base)
    nullable = spec.get("nullable", True) is not False
    schema["type"] = [base["type"], "null"] if nullable else [base["type"]]
    if base["type"] == "string" and "format" not in base and spec.get("length"):
        schema["maxLength"] = int(spec["length"])
    if base["type"] == "array":
        schema["items"] = {}
    return schema


def describe_to_schema(describe: Any) -> dict[str, Any]:
    """A stream JSON Schema from an entity's ``describe`` body.

    Accepts ``fields`` as a list of ``{name, type, ...}`` or as a mapping of
    name to ``{type, ...}`` (both shapes are seen in LGF responses).

    Raises:
        ValueError: the body has no fields.
    """
    fields = describe.get("fields") if isinstance(describe, Mapping) else None
    if isinstance(fields, Mapping):
        items: Iterable[Mapping[str, Any]] = (
            {"name": name, **(spec if isinstance(spec, Mapping) else {"type": spec})}
            for name, spec in fields.items()
        )
    elif isinstance(fields, list):
        items = fields
    else:
        raise ValueError("describe response has no 'fields'")
    properties = {str(f["name"]): wms_field_schema(f) for f in items}
    if not properties:
        raise ValueError("describe response lists no fields")
    return {"type": "object", "properties": properties}


def parse_entity_list(body: Any) -> list[str]:
    """Entity names from the ``/entity/`` body (a list, ``results``, or a name-keyed map)."""
    if isinstance(body, Mapping) and "results" in body:
        body = body["results"]
    if isinstance(body, Mapping):
        return [str(k) for k in body]
    names = []
    for item in body or ():
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, Mapping) and item.get("name"):
            names.append(str(item["name"]))
    return names


#: ``fetch_json(path, stream)``: GET and decode; ``stream`` names the request in errors.
FetchJson = Callable[[str, str], Any]


def wms_stream_definitions(
    settings: TapSettings,
    fetch_json: FetchJson,
    known_schema: Callable[[str], dict[str, Any] | None] = lambda _name: None,
) -> list[StreamDefinition]:
    """The stream definitions of the ``oracle_wms`` profile.

    Args:
        settings: The tap settings (entities, page size, incremental options).
        fetch_json: GETs a path relative to ``base_url`` and returns the decoded
            body; used for the entity list and each ``describe``.
        known_schema: A schema already known for an entity (from the input
            catalog), which saves its ``describe`` call on every run.
    """
    prefix = settings.wms_path_prefix
    entities = list(settings.entities)
    if settings.discover_all_entities:
        entities = parse_entity_list(fetch_json(f"{prefix}/entity/", "(entity list)"))
    definitions = []
    for entity in entities:
        schema = known_schema(entity)
        describe: Any = {}
        if schema is None:
            describe = fetch_json(f"{prefix}/entity/{entity}/describe/", entity)
            schema = describe_to_schema(describe)
        properties = schema["properties"]
        pk = tuple(describe.get("primary_key") or ("id",)) if isinstance(describe, Mapping) else ()
        key = settings.replication_key
        incremental = settings.enable_incremental and key in properties
        if settings.enable_incremental and not incremental:
            log.warning("wms.no_replication_key", entity=entity, replication_key=key)
        paged = settings.page_mode == "paged"
        params: dict[str, Any] = {
            "page_size": settings.page_size,
            "page_mode": settings.page_mode,
            # mod_ts ties are broken by id, so every page boundary is stable.
            "ordering": f"{key},id" if incremental and paged else (key if incremental else "id"),
        }
        if settings.company_code and "company_id" in properties:
            params["company_id__code"] = settings.company_code
        if settings.facility_code and "facility_id" in properties:
            params["facility_id__code"] = settings.facility_code
        definitions.append(
            StreamDefinition(
                name=entity,
                path=f"{prefix}/entity/{entity}/",
                records_path="$.results",
                primary_keys=pk,
                replication_key=key if incremental else None,
                replication_filter_param=f"{key}__gte" if incremental else None,
                replication_lookback_minutes=settings.overlap_minutes,
                is_sorted=incremental,
                params=params,
                paginator=(
                    {
                        "type": "page_number",
                        "page_param": "page",
                        "total_pages_path": "$.page_count",
                        "total_path": "$.result_count",
                    }
                    if paged
                    else {"type": "next_url", "next_url_path": "$.next_page"}
                ),
                window_end_param=f"{key}__lt" if incremental else None,
                schema=schema,
                skip_statuses=frozenset({404}),
                trusted_schema=True,
            )
        )
    return definitions
