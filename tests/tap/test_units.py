"""Unit behaviour: WMS type mapping, settings, JSONPath, bookmarks, inference, the writer."""

from __future__ import annotations

import io
import json
import sys
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.singerlib import RecordMessage, StateMessage

from flext_infra.testing import ENTITIES
from tap_flext_api import (
    CONFIG_SCHEMA,
    FastSingerWriter,
    StreamDefinition,
    TapSettings,
    describe_to_schema,
    field_value,
    format_replication_value,
    infer_schema,
    wms_field_schema,
)
from tap_flext_api._jsonpath import compile_path, first_value, simple_keys
from tap_flext_api.graphql import GRAPHQL_KEYS


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "integer", "nullable": False}, {"type": ["integer"]}),
        ({"type": "decimal", "precision": 12, "scale": 3}, {"type": ["number", "null"]}),
        ({"type": "string", "length": 30}, {"type": ["string", "null"], "maxLength": 30}),
        ({"type": "boolean", "nullable": False}, {"type": ["boolean"]}),
        ({"type": "date"}, {"type": ["string", "null"], "format": "date"}),
        ({"type": "datetime", "nullable": False}, {"type": ["string"], "format": "date-time"}),
        ({"type": "object"}, {"type": ["object", "null"]}),
        ({"type": "array"}, {"type": ["array", "null"], "items": {}}),
        ({"type": "mystery"}, {"type": ["string", "null"]}),
    ],
)
def test_wms_types_map_to_json_schema(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    """Each WMS describe type maps to its JSON Schema type (unknown types to string)."""
    assert wms_field_schema(spec) == expected


def test_wms_foreign_keys_are_id_key_url_objects() -> None:
    """A foreign key becomes an object with id, key and url, nullable unless declared not."""
    schema = wms_field_schema({"type": "fk", "nullable": True})
    assert schema["type"] == ["object", "null"]
    assert set(schema["properties"]) == {"id", "key", "url"}
    assert wms_field_schema({"type": "fk", "nullable": False})["type"] == ["object"]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_describe_schema_validates_the_sample_records(entity: str) -> None:
    """The schema built from describe accepts real sample records (both describe shapes)."""
    from flext_infra.testing import SampleApi

    spec = ENTITIES[entity]
    schema = describe_to_schema(spec.describe())
    as_map = {"fields": {f["name"]: f for f in spec.describe()["fields"]}}
    assert describe_to_schema(as_map) == schema
    with SampleApi(records=20) as api:
        for rid in range(1, 21):
            jsonschema.validate(api.record(entity, rid), schema)


def test_describe_without_fields_is_an_error() -> None:
    """A describe body with no fields is refused, not turned into an empty schema."""
    with pytest.raises(ValueError, match="fields"):
        describe_to_schema({"name": "x"})


def test_upstream_wms_config_is_understood_unchanged() -> None:
    """The upstream keys (timeout, entities, enable_incremental, ...) resolve as documented."""
    settings = TapSettings.from_config(
        {
            "profile": "oracle_wms",
            "base_url": "https://wms.example/env/",
            "username": "u",
            "password": "p",
            "entities": ["allocation"],
            "page_size": 250,
            "timeout": 12,
            "max_retries": 2,
            "enable_incremental": False,
            "replication_key": "mod_ts",
            "start_date": "2024-01-01T00:00:00Z",
            "company_code": "ACME",
            "facility_code": "FAC01",
        }
    )
    assert settings.base_url == "https://wms.example/env"
    assert (settings.auth_method, settings.request_timeout, settings.max_retries) == (
        "basic",
        12.0,
        2,
    )
    assert settings.entities == ("allocation",) and not settings.enable_incremental
    assert (settings.company_code, settings.facility_code, settings.page_size) == (
        "ACME",
        "FAC01",
        250,
    )


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({}, "base_url"),
        ({"base_url": "http://h", "streams": [{"name": "a", "bogus": 1}]}, "unknown keys"),
    ],
)
def test_bad_settings_fail_naming_the_setting(config: dict[str, Any], error: str) -> None:
    """Missing or misspelt settings fail with the setting's name."""
    with pytest.raises(ValueError, match=error):
        TapSettings.from_config(config)


def test_api_url_is_an_alias_of_base_url() -> None:
    """api_url is accepted where base_url is missing."""
    assert TapSettings.from_config({"api_url": "http://h/"}).base_url == "http://h"


def test_every_setting_has_a_title_and_description_and_secrets_are_marked() -> None:
    """Every top-level setting is documented; every secret carries secret=True."""
    secrets = {"password", "bearer_token", "api_key", "oauth2_client_secret"}
    for name, prop in CONFIG_SCHEMA["properties"].items():
        assert prop.get("title") and prop.get("description"), name
        assert bool(prop.get("secret")) == (name in secrets), name


def test_stream_definition_fields_match_the_stream_schema() -> None:
    """The typed stream definition (its GraphQL part included) and the stream schema agree."""
    items = CONFIG_SCHEMA["properties"]["streams"]["items"]["properties"]
    typed = set(StreamDefinition.__dataclass_fields__) - {"trusted_schema", "graphql"}
    assert set(items) == typed | set(GRAPHQL_KEYS)


@pytest.mark.parametrize(
    ("path", "document", "expected"),
    [
        ("$", [{"a": 1}], [{"a": 1}]),
        ("$[*]", [{"a": 1}, {"a": 2}], [{"a": 1}, {"a": 2}]),
        ("$.results", {"results": [{"a": 1}]}, [{"a": 1}]),
        ("$.data.items[*]", {"data": {"items": [1, 2]}}, [1, 2]),
        ("$.missing", {"results": []}, []),
        ("$.next", {"next": None}, []),
        ("$.data[?(@.a > 1)]", {"data": [{"a": 1}, {"a": 2}]}, [{"a": 2}]),
    ],
)
def test_jsonpath_fast_and_general_paths_agree(path: str, document: Any, expected: Any) -> None:
    """Simple paths take the fast route, filters go to jsonpath-ng; both extract the same way."""
    assert compile_path(path)(document) == expected


@pytest.mark.parametrize(
    ("path", "keys"),
    [("$", ()), ("$[*]", ()), ("$.results", ("results",)), (" $.data.items[*] ", ("data", "items")),
     ("$..next", None), ("$.data[0]", None), ("$['next']", None)],
)  # fmt: skip
def test_simple_keys_only_for_plain_dotted_paths(path: str, keys: tuple[str, ...] | None) -> None:
    """Plain dotted paths give their keys (the one-pass reader's input); anything else None."""
    assert simple_keys(path) == keys


def test_invalid_jsonpath_is_a_value_error() -> None:
    """A broken JSONPath is reported with the expression."""
    with pytest.raises(ValueError, match="invalid JSONPath"):
        first_value("$.[", {})


@pytest.mark.parametrize(
    ("fmt", "lookback", "expected"),
    [
        ("iso8601", 0, "2024-03-01T10:00:00+00:00"),
        ("iso8601", 15, "2024-03-01T09:45:00+00:00"),
        ("date", 0, "2024-03-01"),
        ("epoch", 0, 1709287200),
        ("epoch_ms", 0, 1709287200000),
        ("%Y%m%d%H%M", 0, "202403011000"),
    ],
)
def test_bookmark_is_rendered_for_the_filter(fmt: str, lookback: float, expected: Any) -> None:
    """The bookmark minus the lookback is sent in the configured format."""
    assert format_replication_value("2024-03-01T10:00:00Z", fmt, lookback) == expected


def test_non_timestamp_bookmarks_are_sent_as_is() -> None:
    """An integer replication key is not reformatted."""
    assert format_replication_value(42, "iso8601", 5) == 42


def test_dotted_parent_fields_reach_into_objects() -> None:
    """Parent context fields can name a nested value (a WMS foreign key's id)."""
    record = {"id": 1, "order_id": {"id": 7, "key": "ORD7"}}
    assert field_value(record, "order_id.id") == 7
    with pytest.raises(KeyError):
        field_value(record, "order_id.nope")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(deadline=None, max_examples=25)
@given(
    records=st.lists(
        st.dictionaries(st.sampled_from("abcde"), json_values, max_size=5), min_size=1, max_size=8
    )
)
def test_inferred_schema_accepts_every_sampled_record(records: list[dict[str, Any]]) -> None:
    """A schema inferred from a sample validates every record of that sample."""
    schema = infer_schema(records)
    for record in records:
        jsonschema.validate(record, schema)


def test_inference_detects_timestamps_and_numbers() -> None:
    """ISO timestamps get format date-time; ints mixed with decimals become number."""
    schema = infer_schema(
        [
            {"t": "2024-01-01T00:00:00Z", "n": 1},
            {"t": "2024-01-02T00:00:00+01:00", "n": Decimal("1.5")},
        ]
    )
    assert schema["properties"]["t"] == {"type": ["string", "null"], "format": "date-time"}
    assert schema["properties"]["n"] == {"type": ["number", "null"]}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-01-01", "2024-01-02"], "date"),
        (["2024-01-01T00:00:00Z", None, "2024-01-02 10:00"], "date-time"),
        (["2024-01-01T00:00:00Z", "soon", "2024-01-02T00:00:00Z"], None),
        (["plain", "2024-01-01T00:00:00Z"], None),
        (["2024-01-01", "2024-01-01T00:00:00Z", "2024-01-03"], None),
        ([" 2024-01-01"], None),
    ],
)
def test_inference_gives_a_format_only_when_every_string_has_it(
    values: list[str | None], expected: str | None
) -> None:
    """One plain string, or two different formats, anywhere in the sample: no format."""
    prop = infer_schema([{"v": v} for v in values])["properties"]["v"]
    assert prop.get("format") == expected
    assert prop["type"] == ["string", "null"]


def test_writer_buffers_records_until_a_state_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """RECORD lines stay buffered until a STATE message, which flushes them first, in order."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    import msgspec

    shape = msgspec.defstruct(
        "Shape", [("id", int), ("n", msgspec.Raw | msgspec.UnsetType, msgspec.UNSET)]
    )
    writer = FastSingerWriter()
    writer.write_record("s", {"id": 1, "d": Decimal("1.10")}, None, "2024-01-01T00:00:00+00:00")
    writer.write_message(RecordMessage(stream="s", record={"id": 2}))
    writer.write_raw_records("s", [msgspec.Raw(b'{"id":3}'), msgspec.Raw(b'{"id":4}')])
    writer.write_record("s", {"id": 5})
    writer.write_shaped_records("s", [shape(6, msgspec.Raw(b"0")), shape(7)], 2)
    writer.write_record("s", {"id": 8})
    assert out.buffer.getvalue() == b""  # type: ignore[attr-defined]
    writer.write_message(StateMessage(value={"bookmarks": {}}))
    lines = [json.loads(x) for x in out.buffer.getvalue().splitlines()]  # type: ignore[attr-defined]
    assert [m["type"] for m in lines] == ["RECORD"] * 8 + ["STATE"]
    assert [m["record"]["id"] for m in lines[:-1]] == list(range(1, 9))
    raw_lines = out.buffer.getvalue().splitlines()  # type: ignore[attr-defined]
    shaped = FastSingerWriter()
    shaped.write_record("s", {"id": 6, "n": 0}, 2, "2024-01-01T00:00:00+00:00")
    shaped.write_shaped_records("s", [shape(6, msgspec.Raw(b"0"))], 2, "2024-01-01T00:00:00+00:00")
    shaped.flush()
    same = out.buffer.getvalue().splitlines()[len(raw_lines) :]  # type: ignore[attr-defined]
    assert len(same) == 2 and same[0] == same[1]  # byte for byte what write_record writes
    assert lines[5:7] == [  # an absent (UNSET) field stays absent; 0 is a value
        {"type": "RECORD", "stream": "s", "record": {"id": 6, "n": 0}, "version": 2},
        {"type": "RECORD", "stream": "s", "record": {"id": 7}, "version": 2},
    ]
    assert lines[0] == {
        "type": "RECORD",
        "stream": "s",
        "record": {"id": 1, "d": 1.10},
        "time_extracted": "2024-01-01T00:00:00+00:00",
    }


_prop_schemas = st.sampled_from(
    [
        {"type": "boolean"},
        {"type": ["boolean", "null"]},
        {"type": ["integer", "null"]},
        {"type": ["string", "null"]},
        {"type": ["number", "null"]},
        {"type": ["object", "null"], "properties": {"a": {"type": "boolean"}}},
        {"type": ["array", "null"], "items": {"type": "integer"}},
        {"type": ["string", "boolean"]},
    ]
)
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.text(max_size=3)
)
_json_any = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("ab"), inner, max_size=2)
    ),
    max_leaves=4,
)


@settings(deadline=None, max_examples=200)
@given(
    props=st.dictionaries(st.sampled_from("pqrstu"), _prop_schemas, max_size=5),
    record=st.dictionaries(st.sampled_from("pqrstuvw"), _json_any, max_size=7),
    extra=st.booleans(),
)
def test_json_conformer_matches_the_sdk_root_only_conformance(
    props: dict[str, Any], record: dict[str, Any], extra: bool
) -> None:
    """On JSON-decoded records the compiled conformer gives exactly the SDK's ROOT_ONLY result."""
    import logging

    from singer_sdk.helpers._typing import conform_record_data_types
    from singer_sdk.helpers.conform import TypeConformanceLevel

    from tap_flext_api._conform import JsonConformer

    schema = {"type": "object", "properties": props, "additionalProperties": extra}
    log = logging.getLogger("conform-test")
    expected = conform_record_data_types(
        "s", dict(record), schema, TypeConformanceLevel.ROOT_ONLY, log
    )
    got = JsonConformer("s", schema, log)(dict(record))
    assert got == expected
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert list(got) == list(expected)


@settings(deadline=None, max_examples=300)
@given(
    props=st.dictionaries(st.sampled_from("pqrstu"), _prop_schemas, max_size=5),
    record=st.dictionaries(st.sampled_from("pqrstuvw"), _json_any, max_size=7),
    key=st.sampled_from([None, "p", "v"]),
)
def test_record_shape_accepts_only_records_conformance_leaves_unchanged(
    props: dict[str, Any], record: dict[str, Any], key: str | None
) -> None:
    """A record the shape accepts is one the SDK would not change, and is written back equal."""
    import logging

    import msgspec
    from singer_sdk.helpers._typing import conform_record_data_types
    from singer_sdk.helpers.conform import TypeConformanceLevel

    from tap_flext_api._conform import record_shape

    schema = {"type": "object", "properties": props}
    built = record_shape(schema, key)
    assert built is not None
    shape, key_attr = built
    encoded = msgspec.json.encode(record)
    try:
        decoded = msgspec.json.Decoder(shape, float_hook=Decimal).decode(encoded)
    except msgspec.ValidationError:
        return  # such pages are decoded and conformed instead
    sdk = conform_record_data_types(
        "s", dict(record), schema, TypeConformanceLevel.ROOT_ONLY, logging.getLogger("shape-test")
    )
    assert sdk == record
    assert [type(v) for v in sdk.values()] == [type(v) for v in record.values()]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    writer = FastSingerWriter()
    sys.stdout, saved = out, sys.stdout
    try:
        writer.write_shaped_records("s", [decoded, decoded], None, None)
        writer.flush()
    finally:
        sys.stdout = saved
    lines = out.buffer.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 2
    parse = msgspec.json.Decoder(float_hook=Decimal).decode
    assert parse(lines[0]) == {"type": "RECORD", "stream": "s", "record": parse(encoded)}
    if key in props and key_attr is not None:
        value = getattr(decoded, key_attr)
        assert (None if value is msgspec.UNSET else value) == parse(encoded).get(key)
