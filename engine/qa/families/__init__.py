"""Family plug-in registry: family name -> module exposing ``generate(ctx, template, rng)``.

A family module defines:

- ``TASKS``: a set/tuple of task names it implements (template ``task`` must be one of them);
- ``generate(ctx: FamilyContext, template: Template, rng: np.random.Generator) -> list[Candidate]``:
  every candidate question of ``template`` on the context's view (already checked against the
  template's constraints and margins); the generator balances and picks among them;
- optionally ``validate_template(template) -> None``, raising ``template.error(field, msg)``
  for bad ``params``.

Every family module is imported here, by name. Families take ``Template`` from
``engine.qa.schema``, never from the loader (``engine.qa.templates``), which imports this
package to run the ``TASKS`` and ``validate_template`` checks.
"""

from __future__ import annotations

from types import ModuleType

from engine.qa.families import (ascii, camera, counting, grounding, measurement, motion, multiview, occlusion,
                                perspective, relations, text, video)

# Ordered: this order is the default family order everywhere.
FAMILIES: dict[str, ModuleType] = {
    "measurement": measurement,
    "relations": relations,
    "occlusion": occlusion,
    "counting": counting,
    "grounding": grounding,
    "perspective": perspective,
    "camera": camera,
    "motion": motion,
    "multiview": multiview,
    "ascii": ascii,
    "text": text,
    "video": video,
}


# Families asked only when named in ``qa.families`` (not by ``all``, nor by a tag): their questions
# need data the default cameras do not make (video: a camera path, camera=walkthrough), and a
# template tried on every view without a row would change the template order of existing runs.
OPT_IN_FAMILIES = frozenset({"video"})


def get_family(name: str) -> ModuleType:
    """The module of family ``name``; ValueError naming the family otherwise."""
    mod = FAMILIES.get(name)
    if mod is None:
        raise ValueError(f"qa family {name!r} is not registered; known: {list(FAMILIES)}")
    if not callable(getattr(mod, "generate", None)):
        raise ValueError(f"qa family {name!r}: module {mod.__name__} has no generate(ctx, template, rng)")
    return mod
