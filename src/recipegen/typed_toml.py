"""TOML tables read into frozen dataclasses: every key known, every value of its field's type.

config.py's loading, apart from what a config holds. An unknown key or a value of the wrong type
is a ``ConfigError`` naming the key and where its value came from: the file, or an override.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from typing import Any

from recipegen.errors import ConfigError


def parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word such as gru


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    *sections, name = key.split(".")
    node = raw
    for section in sections:
        child = node.setdefault(section, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: {section} is not a section")
        node = child
    node[name] = value


def get_dotted(config: Any, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def origin(key: str, source: str, overridden: set[str] | frozenset[str]) -> str:
    """Where a key's value came from, for error messages: the override or the file."""
    return "override" if key in overridden else source


def build(cls: type, raw: Any, source: str, prefix: str, overridden: set[str]) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin(prefix.rstrip('.'), source, overridden)}: {where} must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        key = f"{prefix}{unknown[0]}"
        told = "override" if any(k == key or k.startswith(key + ".") for k in overridden) else source
        raise ConfigError(f"{told}: unknown key {key} (known: {', '.join(sorted(names))})")
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = build(hint, value, source, prefix=f"{prefix}{name}.", overridden=overridden)
        else:
            key = f"{prefix}{name}"
            values[name] = coerce(value, hint, origin(key, source, overridden), key)
    return cls(**values)


def coerce(value: Any, hint: Any, source: str, key: str) -> Any:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {key} must be {expected}, got {value!r}")

    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if typing.get_origin(hint) is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, (list, tuple)):
            raise wrong("a list")
        return tuple(coerce(v, item, source, key) for v in value)
    raise TypeError(f"unsupported config type {hint!r} for {key}")  # a bug in this module
