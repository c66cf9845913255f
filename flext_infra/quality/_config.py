"""Validation rules as configuration: per stream, from plugin settings or a YAML file.

The shape (the same in YAML and in a plugin's ``validation`` setting)::

    defaults:                 # thresholds every stream gets unless it overrides them
      max_reject_ratio: 0.05
      min_records: 0
    streams:
      order_hdr:
        required: [id, order_nbr]      # shortcut for fields.<f>.required
        not_null: [id]                 # shortcut for fields.<f>.not_null
        unique_key: true               # primary key unique within a batch (default)
        fields:
          status_id: {enum: [0, 10, 20, 30, 90, 99]}
          order_nbr: {regex: '^[A-Z0-9-]+$', max_length: 50}
          total_qty: {min: 0, max: 1000000}
        freshness: {field: mod_ts, max_age: 2d}
        thresholds: {max_reject_ratio: 0.01, min_records: 1}

A ``rules_file`` key names a YAML file with the same shape; inline streams
override the file's streams of the same name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flext_infra._errors import ConfigurationError
from flext_infra._lazy import lazy_module

if TYPE_CHECKING:
    import yaml
else:
    # Loaded when a rules file is read (~15 ms of start-up otherwise).
    yaml = lazy_module("yaml")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: float | int | str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"24h"``, ``"2d"`` or ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '2d'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration (use 90, '90s', '15m', '24h', '2d')")
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRules(_Model):
    """Rules for one field. Absent and null values are only judged by required/not_null."""

    required: bool = False
    not_null: bool = False
    min: float | None = None
    max: float | None = None
    enum: list[Any] | None = None
    regex: str | None = None
    max_length: Annotated[int | None, Field(ge=0)] = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    @field_validator("enum")
    @classmethod
    def _non_empty(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("an enum needs at least one allowed value")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> FieldRules:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Freshness(_Model):
    """The newest replication-key value of a stream must be younger than ``max_age``.

    Attributes:
        field: The timestamp field; the stream's replication key when omitted.
        max_age: How old the newest value may be: seconds or ``"24h"``/``"2d"``.
        max_future: How far in the future one value may be (clock skew) before the
            record is rejected; unlimited when omitted.
        action: ``fail`` breaks the run when the data is stale; ``warn`` reports
            it (report warnings and a low alert) without failing.
    """

    field: str | None = None
    max_age: float
    max_future: float | None = None
    action: Literal["fail", "warn"] = "fail"

    @field_validator("max_age", "max_future", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class Thresholds(_Model):
    """Limits that fail the run when broken.

    Attributes:
        max_reject_ratio: Rejected / received records above this fails (0..1).
        min_records: Fewer records than this fails (catches an empty extract).
    """

    max_reject_ratio: Annotated[float | None, Field(ge=0, le=1)] = None
    min_records: Annotated[int | None, Field(ge=0)] = None

    def over(self, other: Thresholds | None) -> Thresholds:
        """These thresholds, with unset ones taken from ``other``."""
        if other is None:
            return self
        return Thresholds(
            max_reject_ratio=(
                self.max_reject_ratio
                if self.max_reject_ratio is not None
                else other.max_reject_ratio
            ),
            min_records=self.min_records if self.min_records is not None else other.min_records,
        )


class StreamRules(_Model):
    """Everything configured for one stream."""

    fields: dict[str, FieldRules] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    not_null: list[str] = Field(default_factory=list)
    unique_key: bool = True
    key_properties: list[str] | None = None
    freshness: Freshness | None = None
    thresholds: Thresholds | None = None

    def field_rules(self) -> dict[str, FieldRules]:
        """``fields`` with the ``required``/``not_null`` shortcuts folded in."""
        out = dict(self.fields)
        for name in {*self.required, *self.not_null}:
            base = out.get(name, FieldRules())
            out[name] = base.model_copy(
                update={
                    "required": base.required or name in self.required,
                    "not_null": base.not_null or name in self.not_null,
                }
            )
        return out


class ValidationConfig(_Model):
    """Rules for every stream plus default thresholds.

    Build it with :func:`load_rules` (dict, YAML path or None).
    """

    defaults: Thresholds = Thresholds()
    streams: dict[str, StreamRules] = Field(default_factory=dict)
    rules_file: str | None = None

    def for_stream(self, stream: str) -> StreamRules:
        """The stream's rules (empty rules when it has none)."""
        return self.streams.get(stream) or StreamRules()

    def thresholds(self, stream: str) -> Thresholds:
        """The stream's thresholds over the defaults."""
        own = self.for_stream(stream).thresholds
        return own.over(self.defaults) if own is not None else self.defaults


def _problems(exc: ValidationError, where: str) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        lines.append(f"{where}{': ' if where else ''}{loc or '<root>'}: {err['msg']}")
    return lines


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read validation rules: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: validation rules must be a mapping at the top")
    return data


def load_rules(
    source: ValidationConfig | Mapping[str, Any] | str | Path | None,
    *,
    base_dir: Path | None = None,
) -> ValidationConfig:
    """Read validation rules from a mapping (plugin settings), a YAML file, or nothing.

    Args:
        source: The rules; a mapping may name a ``rules_file`` to merge under it.
        base_dir: Resolves a relative ``rules_file`` (default: the working directory).

    Raises:
        ConfigurationError: one line per problem, naming the file and the key path.
    """
    if source is None:
        return ValidationConfig()
    if isinstance(source, ValidationConfig):
        return source
    where = ""
    if isinstance(source, str | Path):
        path = Path(source)
        data: dict[str, Any] = _read_yaml(path)
        where = str(path)
        base_dir = path.parent
    else:
        data = dict(source)
    rules_file = data.get("rules_file")
    if rules_file:
        file_path = Path(rules_file)
        if not file_path.is_absolute():
            file_path = (base_dir or Path.cwd()) / file_path
        from_file = _read_yaml(file_path)
        if "rules_file" in from_file:
            raise ConfigurationError(f"{file_path}: rules_file cannot be nested")
        merged_streams = {**from_file.get("streams", {}), **data.get("streams", {})}
        merged_defaults = {**from_file.get("defaults", {}), **data.get("defaults", {})}
        data = {**from_file, **data, "streams": merged_streams, "defaults": merged_defaults}
        where = where or str(file_path)
    try:
        return ValidationConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(_problems(exc, where)) from exc
