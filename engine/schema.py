"""One way to check a config group: a collect-all checker whose every error names the dotted key,
the bad value and the fix, plus the deep merge and the canonical hash every group shares.

A group's check is a function ``<group>_errors(cfg) -> list[str]``; the job config calls them all
and reports every problem at once (``engine.pipeline.config.validate_config``), and a library
entry point raises :class:`ConfigError` with the same lines (:func:`raise_errors`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from engine.plain import to_plain


class ConfigError(ValueError):
    """A config is invalid; each line of the message reads ``dotted.key: problem; fix: ...``."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def is_num(x: Any) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def is_int(x: Any) -> bool:
    """An int, not a bool."""
    return isinstance(x, int) and not isinstance(x, bool)


def is_rgb(x: Any) -> bool:
    """A linear RGB triple in [0, 1]."""
    return isinstance(x, (list, tuple)) and len(x) == 3 and all(is_num(c) and 0 <= c <= 1 for c in x)


def merge(base: Mapping, over: Mapping) -> dict:
    """A deep copy of ``base`` with ``over`` merged in recursively (mappings merge, other values replace)."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def canonical_hash(data: Any) -> str:
    """First 16 hex digits of the SHA-256 of ``data``'s canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(to_plain(data), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def raise_errors(errors: list[str], title: str = "invalid config", error: type[ValueError] = ConfigError) -> None:
    """Raise ``error`` (:class:`ConfigError`) listing ``errors`` (one per line); nothing when empty."""
    if errors:
        raise error(errors[0] if len(errors) == 1 else f"{title}:\n  " + "\n  ".join(errors))


class Checker:
    """Collects every problem of one config group.

    ``cfg`` is the group's mapping and ``prefix`` its dotted name (``camera``); paths passed to the
    methods are relative to it (``profiles.room.height_m``). A check of a missing key adds nothing
    (``keys`` reports missing keys), so one bad key gives one error.
    """

    def __init__(self, cfg: Any, prefix: str):
        self.cfg = to_plain(cfg)
        self.prefix = prefix
        self.errors: list[str] = []

    def where(self, path: str) -> str:
        """The dotted name of ``path`` in the whole config."""
        return ".".join(p for p in (self.prefix, path) if p)

    def get(self, path: str) -> Any:
        """The value at dotted ``path`` ('' is the group itself), or MISSING."""
        node: Any = self.cfg
        for part in path.split(".") if path else ():
            if not isinstance(node, Mapping) or part not in node:
                return MISSING
            node = node[part]
        return node

    def err(self, path: str, msg: str) -> None:
        self.errors.append(f"{self.where(path)}: {msg}")

    def keys(self, path: str, required: Iterable[str], optional: Iterable[str] = (), see: str = "") -> bool:
        """Check that ``path`` is a mapping with every ``required`` key and no key outside
        ``required`` and ``optional``; True when it is a mapping."""
        required, optional = list(required), list(optional)
        node = self.get(path)
        valid = required + optional
        if node is MISSING:
            self.err(path, f"missing; fix: add a mapping with keys {', '.join(valid)}")
            return False
        if not isinstance(node, Mapping):
            self.err(path, f"got {node!r}; fix: make it a mapping with keys {', '.join(valid)}")
            return False
        for k in node:
            if k not in valid:
                self.err(f"{path}.{k}" if path else str(k), f"unknown key; fix: remove it (valid keys: {', '.join(valid)})")
        for k in required:
            if k not in node:
                self.err(f"{path}.{k}" if path else k, f"missing; fix: add it{f' (see {see})' if see else ''}")
        return True

    def check(self, path: str, ok: Callable[[Any], bool], what: str) -> bool:
        """A value test: error ``got <v>; fix: set it to <what>`` when ``ok(v)`` is false."""
        v = self.get(path)
        if v is MISSING:
            return False
        if not ok(v):
            self.err(path, f"got {v!r}; fix: set it to {what}")
            return False
        return True

    def number(self, path: str, lo: float | None = None, hi: float | None = None, *, strict: bool = False,
               integer: bool = False, unit: str = "") -> bool:
        """A finite number (an integer when ``integer``) with ``lo <= v`` (``lo < v`` when
        ``strict``) and ``v <= hi``."""
        v = self.get(path)
        if v is MISSING:
            return False
        what = "an integer" if integer else "a number"
        bounds = []
        if lo is not None:
            bounds.append(f"{'>' if strict else '>='} {lo}")
        if hi is not None:
            bounds.append(f"<= {hi}")
        rng = f" {' and '.join(bounds)}" if bounds else ""
        if not (is_int(v) if integer else is_num(v)) or (lo is not None and (v <= lo if strict else v < lo)) \
                or (hi is not None and v > hi):
            self.err(path, f"got {v!r}; fix: set it to {what}{rng}{unit}")
            return False
        return True

    def pair(self, path: str, lo: float = -math.inf, hi: float = math.inf, *, integer: bool = False,
             positive: bool = False) -> bool:
        """A ``[min, max]`` range with ``lo <= min <= max <= hi`` (``min > 0`` when ``positive``)."""
        v = self.get(path)
        if v is MISSING:
            return False
        ok_type = is_int if integer else is_num
        kind = "integers" if integer else "numbers"
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(ok_type(x) for x in v)):
            self.err(path, f"got {v!r}; fix: set it to a [min, max] pair of {kind}, e.g. [{0 if lo == -math.inf else lo}, ...]")
            return False
        if not (lo <= v[0] <= v[1] <= hi) or (positive and v[0] <= 0):
            bound = "0 < min" if positive else (f"{lo} <= min" if lo != -math.inf else "min")
            top = f" <= {hi}" if hi != math.inf else ""
            self.err(path, f"{list(v)!r} must satisfy {bound} <= max{top}; fix: reorder or narrow the range")
            return False
        return True

    def boolean(self, path: str) -> bool:
        return self.check(path, lambda v: isinstance(v, bool), "true or false")

    def one_of(self, path: str, options: Iterable[Any]) -> bool:
        options = tuple(options)
        return self.check(path, lambda v: v in options, f"one of {', '.join(map(str, options))}")

    def string_list(self, path: str, example: str = "") -> bool:
        return self.check(path, lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
                          f"a list of strings{f', e.g. {example}' if example else ''}")

    def weights(self, path: str, allowed: Iterable[str] | None = None, allow_null: bool = False) -> bool:
        """A mapping name -> weight >= 0 with a positive sum (names drawn from ``allowed`` when given)."""
        v = self.get(path)
        if v is MISSING or (allow_null and v is None):
            return False
        allowed = tuple(allowed) if allowed is not None else None
        over = f" over {', '.join(allowed)}" if allowed else ""
        if not isinstance(v, Mapping) or not v:
            self.err(path, f"got {v!r}; fix: map names to weights >= 0{over}{' (or null for all)' if allow_null else ''}")
            return False
        ok = True
        for k, w in v.items():
            if allowed is not None and k not in allowed:
                self.err(f"{path}.{k}", f"unknown name; fix: use one of {', '.join(allowed)}")
                ok = False
            if not is_num(w) or w < 0:
                self.err(f"{path}.{k}", f"got {w!r}; fix: set the weight to a number >= 0")
                ok = False
        if ok and sum(v.values()) <= 0:
            self.err(path, "all weights are 0; fix: give at least one a positive weight")
            ok = False
        return ok


def load_data_section(value: Any, loader: Callable[[Any], Any], where: str, example: str, hint: str = "") -> tuple[Any, list[str]]:
    """A config value that is a YAML path (None: the default file) or an inline mapping, as a
    mapping: ``(mapping, [])``, or ``(None, [error])`` naming ``where`` and the fix when the
    file cannot be read or the value is no mapping. ``loader(path)`` reads the file; ``example``
    names the file to copy (``scenes/appearance.yaml``); ``hint`` is added to a YAML error's fix."""
    if value is None or isinstance(value, (str, Path)):
        try:
            value = loader(value)
        except (OSError, yaml.YAMLError) as e:
            return None, [f"{where}: {' '.join(str(e).split())}"
                          + ("" if "fix:" in str(e) else f"; fix: correct the YAML (see {example}){hint}")]
    if not isinstance(value, Mapping):
        return None, [f"{where}: got a {type(value).__name__}; fix: a mapping like {example}"]
    return value, []

