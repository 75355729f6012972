"""Declared parameters and their resolution: defaults <- profile <- profile@modality <-
profile@dataset <- --param.

Every value a run gets, whether from a default, a profile, a sweep file or the command
line, is checked against its declaration before any work starts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wsbench.core.errors import UserError

SCALARS = (bool, int, float, str)
WIDTHS = re.compile(r"^\s*([1-9][0-9]*\s*(,\s*[1-9][0-9]*\s*)*)?$")  # "", "32", "512, 512"


@dataclass(frozen=True)
class Param:
    """A declared parameter of a plugin. Its default is a bool, int, float or str, and
    `--param key=value` is parsed to that type; `choices`, the inclusive bounds `low` and
    `high`, the exclusive lower bound `above` and `widths=True` (comma-separated positive
    integers, "" for none) say which values are allowed. A declaration whose default breaks
    its own rules is refused when the plugin file is loaded.

    `legacy`, for a parameter added to a plugin that already has records: a value at which
    the plugin computes what it computed before the parameter existed. A run at that value
    leaves the parameter out of its identity, so its records keep their names and are not
    rerun; another value (and any later default) is a new configuration. Never change it.

    `when`, (parameter, value): the only setting of another parameter under which this one
    has an effect, such as ("network", "authors"); elsewhere it is inert, and a table does not
    name a row by it."""

    default: Any
    help: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    above: float | None = None
    widths: bool = False
    legacy: Any = None
    when: tuple[str, Any] | None = None

    def __post_init__(self):
        if type(self.default) not in SCALARS:
            raise TypeError(f"Param default {self.default!r}: must be a bool, int, float or str "
                            f"(write a list as a comma-separated string)")
        for what, value in (("default", self.default), ("legacy value", self.legacy)):
            if value is None:
                continue
            if type(value) is not self.type:
                raise TypeError(f"Param {what} {value!r}: must be of type {self.type.__name__}, like the default")
            if (problem := self.problem(value)) is not None:
                raise TypeError(f"Param {what} {value!r} {problem}")

    @property
    def type(self) -> type:
        return type(self.default)

    def problem(self, value: Any) -> str | None:
        """Why `value` (already of the declared type) is not allowed, or None."""
        if self.choices is not None and value not in self.choices:
            return f"must be one of {list(self.choices)}"
        if self.low is not None and value < self.low:
            return f"must be at least {self.low}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high}"
        if self.above is not None and value <= self.above:
            return f"must be above {self.above}"
        if self.widths and not WIDTHS.match(value):
            return "must be comma-separated positive integers such as 32,32 (or empty)"
        return None

    def rules(self) -> str:
        """The allowed values in words, for `wsbench list -v`."""
        parts = [f"one of {', '.join(map(str, self.choices))}"] if self.choices is not None else []
        parts += [f"{op} {bound}" for op, bound in ((">=", self.low), ("<=", self.high), (">", self.above))
                  if bound is not None]
        return "; ".join(parts + (["widths, e.g. 32,32"] if self.widths else []))


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
    return checked(key, spec, value, owner)


def checked(key: str, spec: Param, value: Any, owner: str) -> Any:
    """`value` if its declaration allows it (an int where a float is declared becomes a float);
    else an error naming the parameter, the value and the rule it breaks."""
    if spec.type is float and type(value) is int:
        value = float(value)
    if type(value) is not spec.type:
        raise UserError(f"{owner}: parameter {key}={value!r} is a {type(value).__name__}, "
                        f"declared {spec.type.__name__}")
    if (problem := spec.problem(value)) is not None:
        raise UserError(f"{owner}: parameter {key}={value!r} {problem}")
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
            dataset: str | None = None, modality: str | None = None) -> dict[str, Any]:
    """The full parameter dict of one run, validated against what the plugin declares: the
    defaults, then the profile's overrides, those of `profile@<modality>` (any data set of
    that modality: quick@pointcloud), then those of `profile@<dataset>` (quick@digits)."""
    owner = f"{'method' if profile is not None else 'data set'} {plugin.name!r}"
    declared: dict[str, Param] = plugin.params
    values = {key: spec.default for key, spec in declared.items()}
    if profile is not None:
        profiles = getattr(plugin, "profiles", {})
        if profile not in profiles:
            names = sorted(p for p in profiles if "@" not in p)
            raise UserError(f"{owner}: unknown profile {profile!r}; available: {', '.join(names)}")
        for name in (profile, f"{profile}@{modality}", f"{profile}@{dataset}"):
            for key, value in profiles.get(name, {}).items():
                if key not in declared:
                    raise UserError(f"{owner}: profile {name!r} sets {key!r}, which is not declared")
                values[key] = checked(key, declared[key], value, f"{owner}, profile {name!r}")
    return {**values, **parse_overrides(declared, overrides, owner)}


def identity_params(declared: dict[str, Param], values: dict[str, Any]) -> dict[str, Any]:
    """The parameters that name a run: its resolved values less those at their legacy value."""
    return {key: value for key, value in values.items()
            if key not in declared or declared[key].legacy is None or value != declared[key].legacy}


def inert(declared: dict[str, Param], values: dict[str, Any]) -> set[str]:
    """The parameters that have no effect at `values` (their `when` does not hold)."""
    return {key for key, spec in declared.items()
            if spec.when is not None and values.get(spec.when[0]) != spec.when[1]}


def with_legacy(declared: dict[str, Param], params: dict[str, Any]) -> dict[str, Any]:
    """A record's parameters with the legacy values it leaves out (it ran at them) filled in."""
    return {**{key: spec.legacy for key, spec in declared.items() if spec.legacy is not None}, **params}


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


MAX_SEED = 2**32 - 1  # numpy's and torch's seed range
MAX_INDICES = 10_000  # a count or range of more is a typo, not a plan


def parse_indices(text: str, flag: str, highest: int = MAX_SEED) -> list[int]:
    """Seeds or shard numbers: "5" -> 0..4; "3,7" -> 3 and 7; "2-4" -> 2, 3, 4; "0,5-7" mixes
    both. Every number lies in [0, highest] and appears once; an empty, descending or
    repeating selection is an error that names the flag."""
    def fail(why: str) -> UserError:
        return UserError(f"{flag} {text!r}: {why}")
    text = str(text).strip()
    try:
        if text.isdigit():  # a count
            count = int(text)
            if not 1 <= count <= min(MAX_INDICES, highest + 1):
                hint = f" (a single number is a count: number {count} alone is {count}-{count})" if count <= highest else ""
                raise fail(f"a count must lie between 1 and {min(MAX_INDICES, highest + 1)}{hint}")
            return list(range(count))
        out: list[int] = []
        for item in text.split(","):
            lo, sep, hi = item.strip().partition("-")
            first, last = int(lo), int(hi) if sep else int(lo)
            if last < first:
                raise fail(f"{item.strip()} is a descending range; write {last}-{first}")
            if last - first >= MAX_INDICES:
                raise fail(f"{item.strip()} holds more than {MAX_INDICES} numbers")
            out += range(first, last + 1)
    except ValueError:
        raise fail("expected a count (5), a list (0,3,7) or a range (2-4)") from None
    if not out:
        raise fail("selects nothing")
    if max(out) > highest or min(out) < 0:
        raise fail(f"{max(out) if max(out) > highest else min(out)} is outside 0-{highest}")
    if len(set(out)) < len(out):
        raise fail(f"{next(i for i in out if out.count(i) > 1)} appears twice")
    return out
