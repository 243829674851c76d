"""The QA configuration (``conf/qa/default.yaml``): defaults, merging and validation."""

from __future__ import annotations

import difflib
from collections.abc import Mapping


from engine.paths import CONF_DIR
from engine.plain import to_plain
from engine.qa.templates import ANSWER_TYPES, MARGIN_KEYS
from engine.schema import Checker, merge, raise_errors
from engine.yamlio import load_yaml

DEFAULT_QA_CFG = CONF_DIR / "qa" / "default.yaml"


def default_qa_cfg() -> dict:
    """The defaults from ``conf/qa/default.yaml`` as a plain dict (a fresh copy)."""
    with open(DEFAULT_QA_CFG) as f:
        return load_yaml(f)


def qa_cfg_errors(qa_cfg: Mapping) -> list[str]:
    """Every problem of a QA config (merged over the defaults), each ``qa.<key>: problem; fix: ...``.

    Every key of ``conf/qa/default.yaml`` is known at every level (``margins`` takes the names of
    :data:`MARGIN_KEYS`, ``lexicon`` maps attribute -> {value: adjective}).
    """
    from engine.qa.families import FAMILIES

    if not isinstance(qa_cfg, Mapping):
        return [f"qa: must be a mapping (conf/qa/default.yaml), got {type(qa_cfg).__name__}"]
    defaults = default_qa_cfg()
    c = Checker(merge(defaults, to_plain(qa_cfg)), "qa")
    c.keys("", defaults, see=str(DEFAULT_QA_CFG))
    for section in ("visibility", "refer", "balancing"):
        c.keys(section, defaults[section], see=str(DEFAULT_QA_CFG))
    fams = c.get("families")
    if fams != "all":
        if not isinstance(fams, list) or not fams:
            c.err("families", f"got {fams!r}; fix: 'all' or a non-empty list of family names")
        else:
            tags = set()
            if any(f not in FAMILIES for f in fams):
                from engine.qa.templates import load_templates

                tags = {tag for t in load_templates(c.get("templates")).values() for tag in t.tags}
            for f in fams:
                if f not in FAMILIES and f not in tags:
                    near = difflib.get_close_matches(str(f), [*FAMILIES, *sorted(tags)], n=1)
                    hint = f"did you mean {near[0]!r}? " if near else ""
                    c.err("families", f"{f!r} is neither a family {list(FAMILIES)} nor a template tag {sorted(tags)}; "
                                      f"fix: {hint}use family names or tags from those lists")
    c.string_list("tags")
    c.string_list("exclude_tags", "[needs_upward_cameras]")
    c.check("templates", lambda v: v is None or isinstance(v, str), "a path string or null")
    c.check("answer_forms", lambda v: isinstance(v, list) and v and all(f in ANSWER_TYPES for f in v),
            f"a non-empty list drawn from {ANSWER_TYPES}")
    c.number("questions_per_view", 1, integer=True)
    c.number("max_per_template_per_view", 1, integer=True)
    c.number("decimals", 0, 4, integer=True)
    c.number("visibility.min_fraction", 0.0, 1.0)
    c.number("visibility.min_pixels", 1, integer=True)
    c.number("visibility.min_in_frame", 0.0, 1.0)
    c.number("refer.mark_fraction", 0.0, 1.0)
    c.number("refer.mark_max_cover", 0.0, 1.0)
    c.number("refer.size_ratio", 1.0)
    c.one_of("refer.scope", ("view", "scene"))
    if c.keys("margins", [], MARGIN_KEYS):
        for k in MARGIN_KEYS:
            c.number(f"margins.{k}", 0.0)
    c.number("balancing.tolerance", 0.0, 1.0)
    c.number("balancing.min_slack", 1, integer=True)
    c.number("balancing.context_slack", 1, integer=True)
    c.number("balancing.max_candidates", 1, integer=True)
    c.boolean("balancing.varied")
    c.check("lexicon", lambda v: isinstance(v, Mapping) and all(isinstance(x, Mapping) for x in v.values()),
            "a mapping attribute -> {value: adjective}")
    return c.errors


def validate_qa_cfg(qa_cfg: Mapping) -> None:
    """Check a QA config (after merging over the defaults); raise ``ConfigError`` (a ValueError)
    listing every problem."""
    raise_errors(qa_cfg_errors(qa_cfg), "invalid qa config")


def resolve_qa_cfg(qa_cfg: Mapping | None) -> dict:
    """Defaults merged with ``qa_cfg`` (plain dict), validated."""
    over = to_plain(qa_cfg or {})
    validate_qa_cfg(over)
    return merge(default_qa_cfg(), over)
