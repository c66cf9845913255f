"""Data quality: the ``data_validator`` service, its rules, report and reject store."""

from flext_infra.quality._build import build_data_validator
from flext_infra.quality._compile import CompiledStream, Failure, compile_stream
from flext_infra.quality._config import (
    FieldRules,
    Freshness,
    StreamRules,
    Thresholds,
    ValidationConfig,
    load_rules,
    parse_duration,
)
from flext_infra.quality._report import (
    Breach,
    DataQualityError,
    QualityReport,
    StreamReport,
    ThresholdBreachError,
)
from flext_infra.quality._store import Reject, RejectStore
from flext_infra.quality._validator import DataValidator, current_run_id

__all__ = [
    "Breach",
    "CompiledStream",
    "DataQualityError",
    "DataValidator",
    "Failure",
    "FieldRules",
    "Freshness",
    "QualityReport",
    "Reject",
    "RejectStore",
    "StreamReport",
    "StreamRules",
    "ThresholdBreachError",
    "Thresholds",
    "ValidationConfig",
    "build_data_validator",
    "compile_stream",
    "current_run_id",
    "load_rules",
    "parse_duration",
]
