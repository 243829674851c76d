"""Family plug-in registry: family name -> module exposing ``generate(ctx, template, rng)``.

A family module defines:

- ``TASKS``: a set/tuple of task names it implements (template ``task`` must be one of them);
- ``generate(ctx: FamilyContext, template: Template, rng: np.random.Generator) -> list[Candidate]``:
  every candidate question of ``template`` on the context's view (already checked against the
  template's constraints and margins); the generator balances and picks among them;
- optionally ``validate_template(template) -> None``, raising ``template.error(field, msg)``
  for bad ``params``.

Modules are imported lazily so a family under construction does not break the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Ordered: this order is the default family order everywhere.
FAMILIES: dict[str, str] = {
    "measurement": "engine.qa.families.measurement",
    "relations": "engine.qa.families.relations",
    "occlusion": "engine.qa.families.occlusion",
    "counting": "engine.qa.families.counting",
    "grounding": "engine.qa.families.grounding",
    "perspective": "engine.qa.families.perspective",
    "camera": "engine.qa.families.camera",
    "motion": "engine.qa.families.motion",
    "multiview": "engine.qa.families.multiview",
    "ascii": "engine.qa.families.ascii",
    "text": "engine.qa.families.text",
}

_LOADED: dict[str, ModuleType] = {}


def get_family(name: str) -> ModuleType:
    """The module of family ``name`` (imported once); ValueError naming the family otherwise."""
    if name not in FAMILIES:
        raise ValueError(f"qa family {name!r} is not registered; known: {list(FAMILIES)}")
    mod = _LOADED.get(name)
    if mod is None:
        try:
            mod = importlib.import_module(FAMILIES[name])
        except ModuleNotFoundError as e:
            raise ValueError(f"qa family {name!r}: module {FAMILIES[name]} cannot be imported ({e}); "
                             f"fix: drop {name!r} from qa.families or add the module") from None
        if not callable(getattr(mod, "generate", None)):
            raise ValueError(f"qa family {name!r}: module {FAMILIES[name]} has no generate(ctx, template, rng)")
        _LOADED[name] = mod
    return mod
