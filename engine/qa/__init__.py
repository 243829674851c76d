"""Templated spatial QA: facts from geometry -> templates -> margins/filters -> balancing -> rows.

Public API (the pipeline codes against these names):

    QAGenerator(qa_cfg, catalog).generate(scene, rng) -> list[dict]
    load_templates(path=None) -> dict[str, Template]
    TemplateError(ValueError)
    validate_qa_cfg(qa_cfg) -> None

The family plug-in contract is in ``engine/qa/families/__init__.py`` and docs/qa.md.
"""

from engine.qa.candidate import Candidate
from engine.qa.config import default_qa_cfg, resolve_qa_cfg, validate_qa_cfg
from engine.qa.context import FamilyContext
from engine.qa.facts import ViewFacts, WorldFacts
from engine.qa.generator import QAGenerator
from engine.qa.refer import Referrer, Refs
from engine.qa.templates import Template, TemplateError, load_templates

__all__ = [
    "QAGenerator",
    "load_templates",
    "TemplateError",
    "validate_qa_cfg",
    "default_qa_cfg",
    "resolve_qa_cfg",
    "Template",
    "Candidate",
    "FamilyContext",
    "ViewFacts",
    "WorldFacts",
    "Referrer",
    "Refs",
]
