"""The Template record and TemplateError, apart from the loader.

Families, candidates and the family context need the record only; the loader
(engine/qa/templates.py) imports the families to run their ``TASKS`` and ``validate_template``
checks, so keeping the record here lets ``engine/qa/families/__init__.py`` import every family
module without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


class TemplateError(ValueError):
    """A template is malformed; the message names the file, template id and field."""


@dataclass(frozen=True)
class Template:
    """One question template (immutable once loaded).

    The constants named below (ANSWER_TYPES, SLOT_TYPES, CONSTRAINT_KEYS, MARGIN_KEYS) are in
    engine/qa/templates.py, with the loader that checks them.

    Attributes:
        id: unique id, conventionally ``<family>.<task>[.<form>]``.
        family: family name (a key of ``engine.qa.families.FAMILIES``).
        task: task name within the family.
        answer_type: one of ANSWER_TYPES.
        paraphrases: question texts with ``{slot}`` placeholders (at least two).
        slots: slot name -> slot type (SLOT_TYPES).
        unit: unit of ``value`` for number answers (``m``, ``m2``, ``deg``...), else None.
        tags: free labels used to select templates (``distance``, ``direction``...).
        constraints: see CONSTRAINT_KEYS; margins: see MARGIN_KEYS (template overrides config).
        bins: increasing bin edges for number/count balancing, or None.
        params: family-specific parameters (validated by the family's ``validate_template``).
        views: how many views the question shows (1 or 2).
        frame: ``camera``, ``world`` or ``object`` (the row's ``frame`` field).
        source: the file it came from (for error messages).
    """

    id: str
    family: str
    task: str
    answer_type: str
    paraphrases: tuple[str, ...]
    slots: Mapping[str, str]
    unit: str | None = None
    tags: tuple[str, ...] = ()
    constraints: Mapping[str, Any] = field(default_factory=dict)
    margins: Mapping[str, float] = field(default_factory=dict)
    bins: tuple[float, ...] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    views: int = 1
    frame: str = "camera"
    source: str = ""

    def error(self, fld: str, msg: str) -> TemplateError:
        """A TemplateError naming this template's file, id and ``fld``."""
        return TemplateError(f"{self.source}: template {self.id!r}: field {fld!r}: {msg}")

    def param(self, key: str, default: Any = None) -> Any:
        """``params[key]`` or ``default``."""
        return self.params.get(key, default)
