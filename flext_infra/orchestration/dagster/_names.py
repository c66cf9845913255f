"""Valid Dagster names for Meltano names.

Dagster names (jobs, ops, schedules, asset key parts, groups) allow only
``[A-Za-z0-9_]`` and refuse Python keywords and a few words of its own.
Meltano names use ``-`` (``incremental-sync-job``, ``tap-flext-api--full``)
and environments such as ``prod`` must never leak into a name as
``--environment=prod`` did in dagster-meltano (its issue #44).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

from flext_infra._errors import ConfigurationError

_INVALID = re.compile(r"[^A-Za-z0-9_]")
#: Names Dagster refuses besides Python's keywords (``dagster._core.definitions.utils``);
#: tests/orchestration/test_dagster_names.py fails when Dagster's list grows.
DAGSTER_RESERVED = frozenset(
    {"arg_dict", "bool", "conf", "config", "context", "dict", "float", "input",
     "input_arg_dict", "int", "meta", "output", "output_arg_dict", "str", "type"}
)  # fmt: skip


def dagster_name(name: str) -> str:
    """``name`` with every character Dagster refuses turned into ``_``.

    ``incremental-sync-job`` becomes ``incremental_sync_job``; a reserved word
    (``input``, ``class``) gets a trailing ``_``.

    Raises:
        ConfigurationError: ``name`` is empty.
    """
    if not name.strip():
        raise ConfigurationError("an empty name cannot be a Dagster name")
    out = _INVALID.sub("_", name.strip())
    if keyword.iskeyword(out) or out in DAGSTER_RESERVED:
        out += "_"
    return out


def unique_names(names: Iterable[str], what: str) -> dict[str, str]:
    """Each Meltano name's Dagster name; two names that would collide are an error.

    Raises:
        ConfigurationError: two Meltano names map to one Dagster name.
    """
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    problems = []
    for name in names:
        converted = dagster_name(name)
        if converted in taken and taken[converted] != name:
            problems.append(
                f"{what} {taken[converted]!r} and {name!r} both become the Dagster name "
                f"{converted!r}; rename one"
            )
        taken.setdefault(converted, name)
        out[name] = converted
    if problems:
        raise ConfigurationError(problems)
    return out
