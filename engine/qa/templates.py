"""Question templates: YAML data in ``templates/<family>.yaml``, validated at load.

A template file holds ``family: <name>`` and ``templates: [...]``; each template is a mapping
with the fields of :class:`Template` (see docs/qa.md for the schema). Loading never runs code
from the file: paraphrases are ``str.format`` strings whose ``{slot}`` placeholders must be
exactly the template's declared slots. A malformed template raises :class:`TemplateError`
naming the file, the template id and the field.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import yaml

from engine.paths import TEMPLATES_DIR
from engine.qa.families import FAMILIES, get_family
from engine.qa.schema import Template, TemplateError
from engine.yamlio import load_yaml

DEFAULT_TEMPLATE_DIR = TEMPLATES_DIR

ANSWER_TYPES = ("choice", "bool", "number", "count", "text", "ascii", "json")
SLOT_TYPES = ("object", "category", "number", "direction", "text", "view", "map")
REFER_MODES = ("expression", "mark", "any")
# Constraint keys every family understands; family-specific knobs go under ``params``.
CONSTRAINT_KEYS = {
    "min_visible_fraction": float,   # referents need at least this visible fraction (0..1)
    "min_visible_pixels": int,       # ... and at least this many visible pixels
    "min_in_frame": float,           # ... and this share of the projected box inside the image (0..1)
    "refer": str,                    # expression | mark | any
    "refer_scope": str,              # view | scene: where a referring expression must be unique
    "num_options": int,              # choices shown (choice answers)
    "min_objects": int,
    "max_objects": int,
    "room_types": list,              # room types the template applies to
    "hold_common_answer": bool,      # the answer the shard's candidates offer most never leads (balance.py)
}
MARGIN_KEYS = ("min_rel_diff", "min_abs_diff", "min_angle_deg", "min_image_dx", "min_fraction_diff",
               "min_bin_edge", "min_ratio")
TOP_KEYS = {"id", "task", "tags", "answer_type", "unit", "slots", "paraphrases", "constraints",
            "margins", "bins", "params", "views", "frame", "family"}


def _placeholders(text: str) -> set[str]:
    names = set()
    for _, name, spec, conv in string.Formatter().parse(text):
        if name is None:
            continue
        if name == "" or not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} is not a plain slot name")
        if spec or conv:
            raise ValueError(f"placeholder {{{name}}} must not carry a format spec or conversion")
        names.add(name)
    return names


def parse_template(raw: Any, family: str, source: str) -> Template:
    """Validate one template mapping from a file of ``family``; raise TemplateError on any fault."""
    tid = raw.get("id") if isinstance(raw, dict) else None
    where = f"{source}: template {tid!r}"

    def fail(fld: str, msg: str) -> TemplateError:
        return TemplateError(f"{where}: field {fld!r}: {msg}")

    if not isinstance(raw, dict):
        raise TemplateError(f"{source}: each entry of 'templates' must be a mapping, got {type(raw).__name__}")
    if not isinstance(tid, str) or not tid:
        raise fail("id", "missing or not a string; fix: give every template a unique id like 'relations.left_right'")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown field; allowed fields are {sorted(TOP_KEYS)}")
    if raw.get("family", family) != family:
        raise fail("family", f"{raw['family']!r} differs from the file's family {family!r}")
    for req in ("task", "answer_type", "paraphrases"):
        if req not in raw:
            raise fail(req, "missing; fix: add it (see docs/qa.md, template schema)")
    task = raw["task"]
    if not isinstance(task, str) or not task.isidentifier():
        raise fail("task", f"must be an identifier string, got {task!r}")
    at = raw["answer_type"]
    if at not in ANSWER_TYPES:
        raise fail("answer_type", f"{at!r} is not one of {ANSWER_TYPES}")
    slots = raw.get("slots") or {}
    if not isinstance(slots, dict):
        raise fail("slots", "must be a mapping slot_name -> type")
    for name, typ in slots.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise fail("slots", f"slot name {name!r} is not an identifier")
        if typ not in SLOT_TYPES:
            raise fail(f"slots.{name}", f"type {typ!r} is not one of {SLOT_TYPES}")
    paras = raw["paraphrases"]
    if not isinstance(paras, list) or len(paras) < 2 or not all(isinstance(p, str) and p.strip() for p in paras):
        raise fail("paraphrases", "must be a list of at least two non-empty strings")
    for i, p in enumerate(paras):
        try:
            names = _placeholders(p)
        except ValueError as e:
            raise fail(f"paraphrases[{i}]", str(e)) from None
        if names != set(slots):
            raise fail(f"paraphrases[{i}]", f"placeholders {sorted(names)} must be exactly the slots {sorted(slots)}")
    unit = raw.get("unit")
    if at == "number" and not isinstance(unit, str):
        raise fail("unit", "number answers need a unit string (m, m2, deg, ...)")
    if unit is not None and not isinstance(unit, str):
        raise fail("unit", "must be a string or null")
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise fail("tags", "must be a list of strings")
    cons = raw.get("constraints") or {}
    if not isinstance(cons, dict):
        raise fail("constraints", "must be a mapping")
    for k, v in cons.items():
        if k not in CONSTRAINT_KEYS:
            raise fail(f"constraints.{k}", f"unknown constraint; allowed: {sorted(CONSTRAINT_KEYS)} (family knobs go in params)")
        typ = CONSTRAINT_KEYS[k]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) if typ is float else isinstance(v, typ) and (typ is bool or not isinstance(v, bool))
        if not ok:
            raise fail(f"constraints.{k}", f"must be of type {typ.__name__}, got {v!r}")
    if "min_visible_fraction" in cons and not 0 <= cons["min_visible_fraction"] <= 1:
        raise fail("constraints.min_visible_fraction", "must be in [0, 1]")
    if "min_in_frame" in cons and not 0 <= cons["min_in_frame"] <= 1:
        raise fail("constraints.min_in_frame", "must be in [0, 1] (share of the projected box inside the image)")
    if cons.get("refer", "any") not in REFER_MODES:
        raise fail("constraints.refer", f"must be one of {REFER_MODES}")
    if cons.get("refer_scope", "view") not in ("view", "scene"):
        raise fail("constraints.refer_scope", "must be 'view' or 'scene'")
    if at == "choice" and cons.get("num_options", 2) < 2:
        raise fail("constraints.num_options", "a choice question needs at least 2 options")
    margins = raw.get("margins") or {}
    if not isinstance(margins, dict):
        raise fail("margins", "must be a mapping")
    for k, v in margins.items():
        if k not in MARGIN_KEYS:
            raise fail(f"margins.{k}", f"unknown margin; allowed: {list(MARGIN_KEYS)}")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise fail(f"margins.{k}", f"must be a non-negative number, got {v!r}")
    bins = raw.get("bins")
    if bins is not None:
        if (not isinstance(bins, list) or len(bins) < 1
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bins)
                or any(b1 <= b0 for b0, b1 in zip(bins, bins[1:]))):
            raise fail("bins", "must be a non-empty strictly increasing list of numbers (bin edges)")
        bins = tuple(float(b) for b in bins)
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise fail("params", "must be a mapping")
    views = raw.get("views", 1)
    if views not in (1, 2):
        raise fail("views", "must be 1 or 2")
    frame = raw.get("frame", "camera")
    if frame not in ("camera", "world", "object"):
        raise fail("frame", "must be camera, world or object")
    return Template(
        id=tid, family=family, task=task, answer_type=at, paraphrases=tuple(paras), slots=dict(slots),
        unit=unit, tags=tuple(tags), constraints=dict(cons), margins={k: float(v) for k, v in margins.items()},
        bins=bins, params=dict(params), views=views, frame=frame, source=source,
    )


_FILE_CACHE: dict[tuple[str, int, int], tuple[Template, ...]] = {}


def load_template_file(path: str | Path) -> list[Template]:
    """Load and validate one template file; each family's ``validate_template`` hook runs too.

    Parsed files are cached per process by (path, mtime, size): a worker builds one QA generator
    per shard, and re-parsing the YAML each time cost ~0.25 s a shard. Templates are frozen, so
    sharing them is safe; an edited file is re-read.
    """
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _FILE_CACHE:
        _FILE_CACHE[key] = tuple(_parse_template_file(p))
    return list(_FILE_CACHE[key])


def _parse_template_file(p: Path) -> list[Template]:
    try:
        data = load_yaml(p.read_text())
    except yaml.YAMLError as e:
        raise TemplateError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("family"), str) or not isinstance(data.get("templates"), list):
        raise TemplateError(f"{p}: top level must be a mapping with 'family: <name>' and 'templates: [...]'")
    family = data["family"]
    if family not in FAMILIES:
        raise TemplateError(f"{p}: field 'family': {family!r} is not a registered family {sorted(FAMILIES)}; "
                            "fix: register it in engine/qa/families/__init__.py")
    extra = sorted(set(data) - {"family", "templates", "version", "description"})
    if extra:
        raise TemplateError(f"{p}: unknown top-level field {extra[0]!r}")
    module = get_family(family)
    tasks = getattr(module, "TASKS", None)
    out = []
    for raw in data["templates"]:
        t = parse_template(raw, family, str(p))
        if tasks is not None and t.task not in tasks:
            raise t.error("task", f"{t.task!r} is not a task of family {family!r}: {sorted(tasks)}")
        hook = getattr(module, "validate_template", None)
        if hook is not None:
            hook(t)
        out.append(t)
    return out


def template_files(path: str | Path | None = None) -> list[Path]:
    """The YAML files :func:`load_templates` reads: ``path`` itself, or a folder's ``*.yaml`` sorted
    by name (default ``templates/``). Raises TemplateError when the path does not exist."""
    p = Path(path) if path is not None else DEFAULT_TEMPLATE_DIR
    if not p.exists():
        raise TemplateError(f"qa.templates: {p} does not exist; fix: point qa.templates at a template YAML file "
                            "or a folder of them (null: the packaged templates/)")
    return sorted(p.glob("*.yaml")) if p.is_dir() else [p]


def load_templates(path: str | Path | None = None) -> dict[str, Template]:
    """Load templates from a YAML file or a folder of ``*.yaml`` files (default ``templates/``).

    Returns:
        template id -> Template, files in sorted name order and templates in file order.
    Raises:
        TemplateError naming file, template id and field on any malformed template or a
        duplicate id.
    """
    out: dict[str, Template] = {}
    for f in template_files(path):
        for t in load_template_file(f):
            if t.id in out:
                raise TemplateError(f"{f}: template {t.id!r}: field 'id': duplicate (also in {out[t.id].source})")
            out[t.id] = t
    return out
