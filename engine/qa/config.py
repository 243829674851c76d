"""The QA configuration (``conf/qa/default.yaml``): defaults, merging and validation."""

from __future__ import annotations

import copy
from typing import Mapping

import yaml

from engine.paths import CONF_DIR
from engine.plain import to_plain
from engine.qa.templates import ANSWER_TYPES, MARGIN_KEYS

DEFAULT_QA_CFG = CONF_DIR / "qa" / "default.yaml"


def default_qa_cfg() -> dict:
    """The defaults from ``conf/qa/default.yaml`` as a plain dict (a fresh copy)."""
    with open(DEFAULT_QA_CFG) as f:
        return yaml.safe_load(f)


def _merge(base: dict, over: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _num(cfg: Mapping, path: str, lo: float | None = None, hi: float | None = None, integer: bool = False) -> None:
    v = cfg
    for part in path.split("."):
        v = v[part]
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok or (lo is not None and v < lo) or (hi is not None and v > hi):
        kind = "an integer" if integer else "a number"
        rng = f" in [{lo}, {hi}]" if hi is not None else (f" >= {lo}" if lo is not None else "")
        raise ValueError(f"qa.{path}: must be {kind}{rng}, got {v!r}")


def validate_qa_cfg(qa_cfg: Mapping) -> None:
    """Check a QA config (after merging over the defaults); ValueError names the field and the fix."""
    from engine.qa.families import FAMILIES

    cfg = _merge(default_qa_cfg(), to_plain(qa_cfg))
    known = set(default_qa_cfg())
    for k in to_plain(qa_cfg):
        if k not in known:
            raise ValueError(f"qa.{k}: unknown key; known keys: {sorted(known)}")
    fams = cfg["families"]
    if fams != "all":
        if not isinstance(fams, list) or not fams:
            raise ValueError("qa.families: must be 'all' or a non-empty list of family names")
        tags = set()
        if any(f not in FAMILIES for f in fams):
            from engine.qa.templates import load_templates

            tags = {tag for t in load_templates(cfg["templates"]).values() for tag in t.tags}
        for f in fams:
            if f not in FAMILIES and f not in tags:
                raise ValueError(f"qa.families: {f!r} is neither a family {list(FAMILIES)} "
                                 f"nor a template tag {sorted(tags)}")
    if not isinstance(cfg["tags"], list) or not all(isinstance(t, str) for t in cfg["tags"]):
        raise ValueError("qa.tags: must be a list of tag strings")
    if not isinstance(cfg["exclude_tags"], list) or not all(isinstance(t, str) for t in cfg["exclude_tags"]):
        raise ValueError("qa.exclude_tags: must be a list of tag strings, e.g. [needs_upward_cameras]")
    if cfg["templates"] is not None and not isinstance(cfg["templates"], str):
        raise ValueError("qa.templates: must be a path string or null")
    forms = cfg["answer_forms"]
    if not isinstance(forms, list) or not forms or any(f not in ANSWER_TYPES for f in forms):
        raise ValueError(f"qa.answer_forms: must be a non-empty list drawn from {ANSWER_TYPES}, got {forms!r}")
    _num(cfg, "questions_per_view", 1, integer=True)
    _num(cfg, "max_per_template_per_view", 1, integer=True)
    _num(cfg, "decimals", 0, 4, integer=True)
    _num(cfg, "visibility.min_fraction", 0.0, 1.0)
    _num(cfg, "visibility.min_pixels", 1, integer=True)
    _num(cfg, "visibility.min_in_frame", 0.0, 1.0)
    _num(cfg, "refer.mark_fraction", 0.0, 1.0)
    _num(cfg, "refer.mark_max_cover", 0.0, 1.0)
    _num(cfg, "refer.size_ratio", 1.0)
    if cfg["refer"]["scope"] not in ("view", "scene"):
        raise ValueError(f"qa.refer.scope: must be 'view' or 'scene', got {cfg['refer']['scope']!r}")
    for k, v in cfg["margins"].items():
        if k not in MARGIN_KEYS:
            raise ValueError(f"qa.margins.{k}: unknown margin; known: {list(MARGIN_KEYS)}")
        _num(cfg, f"margins.{k}", 0.0)
    _num(cfg, "balancing.tolerance", 0.0, 1.0)
    _num(cfg, "balancing.min_slack", 1, integer=True)
    _num(cfg, "balancing.context_slack", 1, integer=True)
    _num(cfg, "balancing.max_candidates", 1, integer=True)
    if not isinstance(cfg["balancing"]["varied"], bool):
        raise ValueError(f"qa.balancing.varied: must be true or false, got {cfg['balancing']['varied']!r}")
    lex = cfg["lexicon"]
    if not isinstance(lex, dict) or not all(isinstance(v, dict) for v in lex.values()):
        raise ValueError("qa.lexicon: must map attribute -> {value: adjective}")


def resolve_qa_cfg(qa_cfg: Mapping | None) -> dict:
    """Defaults merged with ``qa_cfg`` (plain dict), validated."""
    over = to_plain(qa_cfg or {})
    validate_qa_cfg(over)
    return _merge(default_qa_cfg(), over)
