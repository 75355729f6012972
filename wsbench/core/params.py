"""Resolve a plugin's parameters: declared defaults <- profile <- profile@dataset <- --param."""
from __future__ import annotations

from typing import Any

from wsbench.core.contracts import Param
from wsbench.core.errors import UserError

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def parse_value(key: str, spec: Param, text: str, owner: str) -> Any:
    """Parse `text` as the declared type of `key`, or say which parameter is wrong and why."""
    kind = spec.type
    try:
        if kind is bool:
            low = text.strip().lower()
            if low not in _TRUE | _FALSE:
                raise ValueError
            value: Any = low in _TRUE
        elif kind is int:
            value = int(text)
        elif kind is float:
            value = float(text)
        else:
            value = text
    except ValueError:
        raise UserError(f"{owner}: parameter {key}={text!r} is not a valid {kind.__name__} "
                        f"(default {spec.default!r})") from None
    if spec.choices is not None and value not in spec.choices:
        raise UserError(f"{owner}: parameter {key}={value!r} must be one of {list(spec.choices)}")
    return value


def parse_assignments(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def resolve(plugin: type, overrides: dict[str, str], profile: str | None = None,
            dataset: str | None = None) -> dict[str, Any]:
    """The full parameter dict of one run, validated against what the plugin declares."""
    owner = f"{'method' if profile is not None else 'data set'} {plugin.name!r}"
    declared: dict[str, Param] = plugin.params
    values = {key: spec.default for key, spec in declared.items()}
    if profile is not None:
        profiles = getattr(plugin, "profiles", {})
        if profile not in profiles:
            names = sorted(p for p in profiles if "@" not in p)
            raise UserError(f"{owner}: unknown profile {profile!r}; available: {', '.join(names)}")
        values.update(profiles[profile])
        values.update(profiles.get(f"{profile}@{dataset}", {}))
    return {**values, **parse_overrides(declared, overrides, owner)}


def parse_overrides(declared: dict[str, Param], overrides: dict[str, str], owner: str) -> dict[str, Any]:
    """key=value overrides parsed to their declared types; an undeclared key is named with the choices."""
    for key in overrides:
        if key not in declared:
            raise UserError(f"{owner}: unknown parameter {key!r}; declared: {', '.join(sorted(declared))}")
    return {key: parse_value(key, declared[key], text, owner) for key, text in overrides.items()}


def parse_widths(text: str) -> tuple[int, ...]:
    """Hidden widths from a parameter string: "512,512" -> (512, 512); "" -> () (no hidden layer)."""
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise UserError(f"widths {text!r}: expected comma-separated integers such as 32,32") from None
