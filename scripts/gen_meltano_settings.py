"""Write the plugins' ``settings:`` and ``capabilities:`` in plugins/*.meltano.yml.

The plugin's schema is the one source of truth for its settings (STYLE.md);
Meltano needs them declared for a custom plugin, so this copies them across:
name, label (the title), description, kind, ``sensitive: true`` for secrets,
options for enums. Nested objects with properties (``oracle_config``) become
dotted settings (``oracle_config.host``). Run after changing a setting; a test
runs ``--check`` and fails while meltano.yml is stale.
"""

from __future__ import annotations

import copy
import importlib
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = {
    "tap-flext-api": ("tap_flext_api.tap", "TapFlextApi"),
    "target-flext-oracle": ("target_flext_oracle.target", "TargetFlextOracle"),
}
#: Where each plugin is defined (included from meltano.yml through include_paths).
FILES = {
    "tap-flext-api": ROOT / "plugins" / "extractors.meltano.yml",
    "target-flext-oracle": ROOT / "plugins" / "loaders.meltano.yml",
}


def _types(prop: dict[str, Any]) -> list[str]:
    t = prop.get("type")
    if isinstance(t, list):
        return [x for x in t if x != "null"]
    if isinstance(t, str):
        return [t]
    found: list[str] = []
    for key in ("anyOf", "oneOf"):
        alternatives = prop.get(key)
        for alt in alternatives if isinstance(alternatives, list) else []:
            if isinstance(alt, dict):
                found += [x for x in _types(alt) if x not in found]
    return found


def _kind(prop: dict[str, Any]) -> str:
    types = _types(prop)
    if prop.get("enum"):
        return "options"
    if "string" in types and prop.get("format") == "date-time":
        return "date_iso8601"
    for json_type, kind in (
        ("boolean", "boolean"),
        ("integer", "integer"),
        ("number", "decimal"),
        ("array", "array"),
        ("object", "object"),
    ):
        if types == [json_type]:
            return kind
    return "string"


def _settings(props: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, prop in props.items():
        # A record-like object (oracle_config) becomes dotted settings; a map whose
        # values follow a schema (stream_maps) stays one object setting.
        is_map = isinstance(prop.get("additionalProperties"), dict)
        if "object" in _types(prop) and prop.get("properties") and not is_map:
            out += _settings(prop["properties"], f"{prefix}{name}.")
            continue
        setting: dict[str, Any] = {"name": f"{prefix}{name}", "kind": _kind(prop)}
        if prop.get("title"):
            setting["label"] = prop["title"]
        if prop.get("description"):
            setting["description"] = " ".join(prop["description"].split())
        if prop.get("secret") or prop.get("writeOnly"):
            setting["sensitive"] = True
        if prop.get("enum"):
            setting["options"] = [
                {"label": str(v), "value": v} for v in prop["enum"] if v is not None
            ]
        out.append(setting)
    return out


def plugin_settings(plugin: str) -> list[dict[str, Any]]:
    """Meltano settings for one plugin, from its config_jsonschema."""
    module, cls = PLUGINS[plugin]
    plugin_cls = getattr(importlib.import_module(module), cls)
    # The schema `--about` shows: the plugin's own settings plus the SDK's built-in
    # ones for its capabilities (stream maps, flattening, default_target_schema, ...).
    schema = copy.deepcopy(plugin_cls.config_jsonschema)
    plugin_cls.append_builtin_config(schema)
    return _settings(schema.get("properties", {}))


def plugin_capabilities(plugin: str) -> list[str]:
    """The capabilities the plugin itself advertises in ``--about``."""
    module, cls = PLUGINS[plugin]
    caps = getattr(importlib.import_module(module), cls).capabilities
    return [str(getattr(c, "value", c)) for c in caps]


def render(plugin: str, text: str) -> str:
    """A plugin file's text with the plugin's capabilities and settings regenerated."""
    caps = ", ".join(plugin_capabilities(plugin))
    text, n = re.subn(
        rf"(  - name: {re.escape(plugin)}\n(?:    (?!capabilities:).*\n)*?)"
        r"    capabilities:.*\n",
        lambda m, c=caps: f"{m.group(1)}    capabilities: [{c}]\n",
        text,
        count=1,
    )
    if n != 1:
        raise SystemExit(f"no capabilities line found for {plugin}")
    block = yaml.safe_dump(
        {"settings": plugin_settings(plugin)}, sort_keys=False, width=1000, allow_unicode=True
    )
    indented = "".join(f"    {line}\n" for line in block.splitlines())
    pattern = re.compile(
        rf"(  - name: {re.escape(plugin)}\n(?:    (?!settings:).*\n)*?)"
        r"    settings:.*\n(?:    [ -].*\n)*"
    )
    text, n = pattern.subn(lambda m, b=indented: m.group(1) + b, text, count=1)
    if n != 1:
        raise SystemExit(f"no settings block found for {plugin}")
    return text


def main() -> int:
    """Rewrite the plugin files, or with ``--check`` fail when one is stale."""
    stale = []
    for plugin, path in FILES.items():
        current = path.read_text()
        wanted = render(plugin, current)
        if wanted == current:
            continue
        if "--check" in sys.argv:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(wanted)
    if stale:
        print(f"stale: {', '.join(stale)}: run scripts/gen_meltano_settings.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
