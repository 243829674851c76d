"""QAGenerator: scene record -> QA rows (record contract in docs/record.md, minus images/scene)."""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

import numpy as np

from engine.qa.balance import Balancer
from engine.qa.candidate import Candidate
from engine.qa.config import resolve_qa_cfg
from engine.qa.context import FamilyContext
from engine.qa.facts import ViewFacts, WorldFacts
from engine.qa.families import FAMILIES, OPT_IN_FAMILIES, get_family
from engine.qa.templates import Template, load_templates
from engine.scene.catalog import Catalog
from engine.scene.graph import SceneGraph

LETTERS = "ABCDEFGH"
FAIL_WEIGHT = 0.5  # a view without a row counts as this many uses when templates are ordered


def select_templates(templates: Mapping[str, Template], cfg: Mapping) -> list[Template]:
    """Templates enabled by ``cfg``: families (names or tags), tags, exclude_tags and answer forms; load order.
    Templates of ``OPT_IN_FAMILIES`` (video) are enabled only when their family is named."""
    fams = cfg["families"]
    tags = set(cfg["tags"])
    exclude = set(cfg["exclude_tags"])
    forms = set(cfg["answer_forms"])
    out = []
    for t in templates.values():
        if set(t.tags) & exclude:
            continue
        if t.family in OPT_IN_FAMILIES and (fams == "all" or t.family not in fams):
            continue  # opt-in families (video) only when named
        if fams != "all" and t.family not in fams and not set(t.tags) & set(fams):
            continue
        if tags and not set(t.tags) & tags:
            continue
        if t.answer_type not in forms:
            continue
        out.append(t)
    return out


def finalize(c: Candidate, balancer: Balancer, rng: np.random.Generator, scene_id: str, row_id: str) -> dict:
    """Turn the chosen candidate into a QA row: place choice letters (balanced), format the answer."""
    t = c.template
    question, choices, answer_index, answer = c.question, None, None, c.answer
    if c.answer_type == "choice":
        if c.ordered:
            p, choices = c.correct, list(c.options)
        elif c.option_builder is not None:
            p = balancer.position(t.id, c.num_positions, rng)
            choices = c.option_builder(p)
        else:
            n = len(c.options)
            p = balancer.position(t.id, n, rng)
            others = [o for k, o in enumerate(c.options) if k != c.correct]
            others = [others[int(i)] for i in rng.permutation(len(others))]
            choices = others[:p] + [c.options[c.correct]] + others[p:]
        if len(choices) > len(LETTERS):
            raise ValueError(f"{t.id}: at most {len(LETTERS)} options, got {len(choices)}")
        answer_index = p
        question = question + "\n" + "\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(choices))
        answer = f"{LETTERS[p]}. {choices[p]}"
        if choices[p] != c.value:
            raise AssertionError(f"{t.id}: option at the answer position {choices[p]!r} != value {c.value!r}")
    if answer is None:
        answer = str(c.value)
    return {
        "id": row_id,
        "scene_id": scene_id,
        "view_ids": list(c.view_ids),
        "family": t.family,
        "task": t.task,
        "template_id": t.id,
        "question": question,
        "answer": answer,
        "answer_type": c.answer_type,
        "choices": choices,
        "answer_index": answer_index,
        "value": c.value,
        "unit": c.unit,
        "objects": list(c.objects),
        "frame": c.frame,
        "rationale": c.rationale,
        "marks": c.marks,
        "meta": dict(c.meta),
        "paraphrase": c.paraphrase,
    }


class QAGenerator:
    """Generates balanced QA rows; create one per shard and call :meth:`generate` per scene.

    Args:
        qa_cfg: the ``qa`` config group (conf/qa/default.yaml; missing keys take the defaults).
        catalog: the object catalog (display names of categories).
    """

    def __init__(self, qa_cfg: Mapping, catalog: Catalog):
        self.cfg = resolve_qa_cfg(qa_cfg)
        self.catalog = catalog
        self.templates = select_templates(load_templates(self.cfg["templates"]), self.cfg)
        if not self.templates:
            raise ValueError(f"qa: no template matches families={self.cfg['families']} tags={self.cfg['tags']} "
                             f"answer_forms={self.cfg['answer_forms']}; fix: widen the selection")
        order = list(FAMILIES)
        self.modules = {f: get_family(f) for f in sorted({t.family for t in self.templates}, key=order.index)}
        b = self.cfg["balancing"]
        self.balancer = Balancer(b["tolerance"], b["min_slack"], b["context_slack"], b["varied"])
        self.state: dict = {}  # per-shard family state (FamilyContext.state)
        self.fails: dict[str, int] = defaultdict(int)  # views on which a template gave no row
        self.mark_rows = [0, 0]  # marked rows, rows of templates that may use marks (refer: any)
        self.stats = {"candidates": 0, "rejected_balance": 0, "degenerate": 0, "duplicates": 0, "rows": 0}

    def _ordered_templates(self, rng: np.random.Generator) -> list[Template]:
        """Templates least used first (ties: rng order); a view on which a template gave no row
        counts as half a use (``FAIL_WEIGHT``), so a template the balancer keeps rejecting is not
        asked to generate candidates first on every view."""
        perm = rng.permutation(len(self.templates))
        shuffled = [self.templates[int(i)] for i in perm]
        usage, fails = self.balancer.usage, self.fails
        return sorted(shuffled, key=lambda t: usage[t.id] + FAIL_WEIGHT * fails[t.id])  # stable

    def _pick(self, keep: list[Candidate], rng: np.random.Generator) -> Candidate | None:
        """The balancer's choice; while marked rows of ``refer: any`` templates are at or above
        ``refer.mark_fraction`` of those rows, an acceptable unmarked candidate comes first (the
        balancer accepts marked candidates more readily, their text naming no category)."""
        marked, total = self.mark_rows
        if keep and total and marked >= self.cfg["refer"]["mark_fraction"] * total:
            plain = [c for c in keep if c.marks is None]
            if len(plain) < len(keep):
                scores: dict = {}  # the balancer is unchanged between the two tries: score each once
                pick = self.balancer.choose(plain, rng, scores)
                if pick is not None:
                    return pick
                return self.balancer.choose(keep, rng, scores)
        return self.balancer.choose(keep, rng)

    def generate(self, scene: SceneGraph, rng: np.random.Generator) -> list[dict]:
        """QA rows for every view of ``scene`` (fields of docs/record.md except images/scene,
        plus ``marks`` and ``meta``). Deterministic given the generator's state and ``rng``."""
        world = WorldFacts(scene, self.catalog)
        views = [ViewFacts(world, v) for v in scene.views]
        rows: list[dict] = []
        seen: set[tuple] = set()
        quota = int(self.cfg["questions_per_view"])
        per_t = int(self.cfg["max_per_template_per_view"])
        for vf in views:
            ctx = FamilyContext(scene, self.catalog, world, vf, views, self.cfg, state=self.state)
            n_view = 0
            for t in self._ordered_templates(rng):
                if n_view >= quota:
                    break
                cands = self.modules[t.family].generate(ctx, t, rng)
                self.stats["candidates"] += len(cands)
                self.balancer.observe(cands)
                before = n_view
                for _ in range(per_t):
                    if n_view >= quota:
                        break
                    keep = []
                    for c in cands:
                        if c.degenerate:
                            self.stats["degenerate"] += 1
                        elif (tuple(c.view_ids), c.question) in seen:
                            self.stats["duplicates"] += 1
                        else:
                            keep.append(c)
                    pick = self._pick(keep, rng)
                    if pick is None:
                        if keep:
                            self.stats["rejected_balance"] += 1
                        break
                    self.balancer.commit(pick)
                    if t.constraints.get("refer", "any") == "any":
                        self.mark_rows[0] += pick.marks is not None
                        self.mark_rows[1] += 1
                    seen.add((tuple(pick.view_ids), pick.question))
                    rows.append(finalize(pick, self.balancer, rng, scene.scene_id, f"{scene.scene_id}_q{len(rows):03d}"))
                    n_view += 1
                    cands = [c for c in keep if c is not pick]
                if n_view == before:
                    self.fails[t.id] += 1
        self.stats["rows"] += len(rows)
        return rows
