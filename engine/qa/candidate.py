"""The Candidate type (a question before balancing) and builders for each answer form.

Families return Candidates; the generator balances, picks, places choice letters and turns
the chosen Candidate into a row (:func:`engine.qa.generator.finalize`). Builders render a
paraphrase chosen with the rng, so the question text is a pure function of (template, slots,
rng state).
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from engine.qa.refer import Refs
from engine.qa.schema import Template

UNIT_WORDS = {"m": "m", "m2": "square meters", "deg": "degrees", "px": "pixels", "%": "%"}


@dataclass
class Candidate:
    """One possible question of a template on a view.

    Attributes:
        template: the Template it instantiates.
        question: question text (for choices, without the lettered options; the generator adds them).
        answer_type: the template's answer type.
        value: typed answer (bool, int, float in ``unit``, or the correct option's text).
        rationale: short derivation from the geometry, in sentences ending with the answer.
        objects: ids referenced, in the order the question names them.
        view_ids: views the question shows.
        answer: answer text; None means derived from value (bool -> yes/no, number -> "1.25 m").
        options / correct: choice options and the index of the right one (any order; the
            generator puts the right one at a balanced letter and shuffles the rest), or
        option_builder: for ordered options (ascending numbers): position -> option texts with
            the right one at that position; ``num_positions`` positions exist.
        marks: {"view_id", "object_ids", "style"} when objects are named by marks, else None.
        frame: camera | world | object:<id>.
        answer_key / answer_space: the balancing bucket of this answer and all buckets it
            competes with (None: not balanced); context_key: what the question text reveals
            about the answer (e.g. referenced categories), balanced within as well.
        option_keys: per option, what its text reveals (category or text); the balancer keeps
            each key's win rate near 1 / number of options, so no option is a safe blind guess.
        ordered: options are shown in the given order (ascending numbers), the right one at
            ``correct``; balance the position through answer_key/answer_space instead.
        degenerate: True when the question's answer would not change without one of its
            referenced objects / filters (the generator drops it).
        meta: extra labels for the row (e.g. {"depth_cue": "counter_heuristic"}).
        paraphrase: index of the template paraphrase the question text was rendered from (the
            ``paraphrase`` factor, conf/factors.yaml).
        features: everything else the question text reveals, one string each (``slot=value``
            for every slot: an object slot gives its referent's category or "mark", other slots
            their text; plus the joint value of the non-object slots); the balancer keeps the
            answer balanced within each, so no word of the question predicts the answer.
    """

    template: Template
    question: str
    answer_type: str
    value: Any
    rationale: str
    objects: list[str]
    view_ids: list[str]
    answer: str | None = None
    unit: str | None = None
    options: list[str] | None = None
    correct: int | None = None
    option_builder: Callable[[int], list[str]] | None = None
    num_positions: int | None = None
    marks: dict | None = None
    frame: str = "camera"
    answer_key: str = ""
    answer_space: tuple[str, ...] | None = None
    context_key: tuple[str, ...] = ()
    degenerate: bool = False
    meta: dict = field(default_factory=dict)
    option_keys: tuple[str, ...] | None = None
    ordered: bool = False
    features: tuple[str, ...] = ()
    paraphrase: int | None = None


def capitalize(text: str) -> str:
    """``text`` with its first letter upper-cased and the rest untouched ("the lamp is..." ->
    "The lamp is..."; ``str.capitalize`` would lower-case the rest)."""
    return text[:1].upper() + text[1:]


def render_question(t: Template, rng: np.random.Generator, slots: dict[str, str]) -> str:
    """Pick a paraphrase of ``t`` with ``rng`` and fill its slots; first letter upper-cased."""
    return _question(t, rng, slots)["question"]


def _question(t: Template, rng: np.random.Generator, slots: dict[str, str]) -> dict:
    """{question, paraphrase}: the text of :func:`render_question` (one rng draw, the same) and
    the index of the paraphrase it was rendered from."""
    k = int(rng.integers(len(t.paraphrases)))
    return {"question": capitalize(t.paraphrases[k].format(**slots)), "paraphrase": k}


def fmt_value(x: float, unit: str | None, decimals: int = 2) -> str:
    """Number with its unit word: ``fmt_value(1.2, "m") == "1.20 m"``."""
    s = f"{x:.{decimals}f}"
    return f"{s} {UNIT_WORDS.get(unit, unit)}" if unit else s


def bin_key(x: float, edges: Sequence[float] | None) -> tuple[str, tuple[str, ...] | None]:
    """Balancing bucket of a number for increasing bin ``edges`` (k edges -> k+1 bins); (key, space).

    Bin k holds edges[k-1] <= x < edges[k] (``np.searchsorted(edges, x, side="right")``)."""
    if not edges:
        return "", None
    return f"bin{bisect.bisect_right(edges, x)}", _bin_space(len(edges))


@functools.lru_cache(maxsize=None)
def _bin_space(n_edges: int) -> tuple[str, ...]:
    return tuple(f"bin{j}" for j in range(n_edges + 1))


MAX_FEATURE_CHARS = 60  # longer slot texts (descriptions, legends) are not balancing features


def text_features(t: Template, slots: dict, refs: Refs | None) -> tuple[str, ...]:
    """What the question text reveals, as balancing features: ``<slot>=<category>`` (or
    ``=mark``) for a slot naming a referent, ``<slot>=<text>`` for any other slot (except maps
    and texts longer than ``MAX_FEATURE_CHARS``), and ``slots=<a>|<b>`` joining the
    non-object slots when there are two or more."""
    feats, plain = [], []
    names = refs.names if refs else ()
    for name in sorted(slots):
        val = str(slots[name])
        if t.slots.get(name) == "map" or len(val) > MAX_FEATURE_CHARS:
            continue  # a map or a scene description: unique per question, it predicts nothing
        if val in names:
            feats.append(f"{name}={refs.keys[names.index(val)]}")
        else:
            feats.append(f"{name}={val}")
            plain.append(val)
    if len(plain) >= 2:
        feats.append("slots=" + "|".join(plain))
    return tuple(feats)


def _common(ctx, t: Template, refs: Refs | None, slots: dict) -> dict:
    """Candidate fields every builder sets the same way, text features included."""
    return {
        "features": text_features(t, slots, refs),
        "template": t,
        "objects": list(refs.ids) if refs else [],
        "marks": refs.marks if refs else None,
        "view_ids": list(ctx.view_ids),
        "frame": t.frame if t.frame != "object" else "camera",
        "context_key": tuple(refs.keys) if refs else (),
    }


def _new(ctx, t: Template, rng, slots: dict, refs: Refs | None, features: bool = True, **fields) -> Candidate:
    """A Candidate with the question of :func:`_question` (its one rng draw) and the fields of
    :func:`_common` (``features=False``: no text features, for builders that clear them), plus
    ``fields``: what every builder does, in one call."""
    k = int(rng.integers(len(t.paraphrases)))
    text = t.paraphrases[k].format(**slots)
    if refs is not None:
        objects, marks, context_key = list(refs.ids), refs.marks, tuple(refs.keys)
    else:
        objects, marks, context_key = [], None, ()
    return Candidate(template=t, question=text[:1].upper() + text[1:], paraphrase=k, objects=objects, marks=marks,
                     view_ids=list(ctx.view_ids), frame=t.frame if t.frame != "object" else "camera",
                     context_key=context_key, features=text_features(t, slots, refs) if features else (), **fields)


def bool_candidate(ctx, t: Template, rng, slots: dict, refs: Refs | None, value: bool, rationale: str,
                   **kw) -> Candidate:
    """A yes/no question; balanced over {yes, no} within the template and the referenced categories."""
    yes = "yes" if value else "no"
    c = _new(ctx, t, rng, slots, refs, answer_type="bool", value=bool(value), rationale=rationale, answer=yes,
             answer_key=yes, answer_space=("no", "yes"))
    for k, v in kw.items():
        setattr(c, k, v)
    return c


_DEFAULT = object()


def choice_candidate(ctx, t: Template, rng, slots: dict, refs: Refs | None, options: list[str], correct: int,
                     rationale: str, answer_key: str | None = None, answer_space: Any = _DEFAULT,
                     **kw) -> Candidate:
    """A multiple-choice question; the generator places the right option at a balanced letter.

    ``answer_key`` defaults to the right option's text and ``answer_space`` to all option texts;
    pass ``answer_space=None`` to balance only the letter.
    """
    if answer_space is _DEFAULT:
        answer_space = tuple(sorted(options))
    if len(set(options)) != len(options):
        raise ValueError(f"{t.id}: duplicate options {options}")
    c = _new(ctx, t, rng, slots, refs, answer_type="choice", value=options[correct], rationale=rationale,
             options=list(options), correct=int(correct), option_keys=tuple(options),
             answer_key=answer_key if answer_key is not None else options[correct], answer_space=answer_space)
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def number_candidate(ctx, t: Template, rng, slots: dict, refs: Refs | None, value: float, rationale: str,
                     decimals: int = 2, **kw) -> Candidate:
    """An open numeric question; value rounded to ``decimals`` in the template's unit, binned by ``t.bins``."""
    v = round(float(value), decimals)
    key, space = bin_key(v, t.bins)
    c = _new(ctx, t, rng, slots, refs, features=False, answer_type="number", value=v, unit=t.unit,
             rationale=rationale, answer=fmt_value(v, t.unit, decimals), answer_key=key, answer_space=space)
    c.context_key = ()  # open numbers: balanced over bins only (the meter reports their MRA)
    for k, v_ in kw.items():
        setattr(c, k, v_)
    return c


def _min_log_step(vals: list[float]) -> float:
    """``float(np.min(np.diff(np.log(vals))))``: the smallest step between neighbouring logs."""
    lg = np.log(vals)
    return float((lg[1:] - lg[:-1]).min())


@functools.lru_cache(maxsize=64)
def _log(x: float) -> np.float64:
    """``np.log(x)`` of a template's ratio, worked once."""
    return np.log(x)


PRIOR_SIZE = 256  # truths a numeric template remembers per shard to draw distractors from
PRIOR_MIN = 24  # fewer remembered truths than this: distractors from a geometric ladder instead


def numeric_choice_candidate(ctx, t: Template, rng, slots: dict, refs: Refs | None, value: float,
                             rationale: str, decimals: int = 2, **kw) -> Candidate:
    """A numeric multiple-choice question whose options are exchangeable with the truth, or
    None when this draw is not askable.

    The distractors are earlier true values of the same template in this shard (the last
    ``PRIOR_SIZE`` candidates' truths, ``ctx.state``), drawn once with the rng; the question is
    asked only when every two options differ by the factor ``params.ratio`` (default 1.5) or
    more, so the right one is never inside a margin of another. Drawn once and dropped (never
    redrawn) when too close, the truth and the distractors are exchangeable: the chance of an
    option set does not depend on which of its values is the truth, so neither "the option
    nearest the usual value" nor "the middle option" beats chance. Until ``PRIOR_MIN`` truths
    are remembered (a shard's first questions) the options form the geometric ladder
    ``value * ratio**(k - p)`` with p drawn by the rng. Options are shown in ascending order
    (``constraints.num_options``, default 4); the right position is balanced as the answer
    (``pos<p>``) and each option's log step is its option key.
    """
    n = int(t.constraints.get("num_options", 4))
    ratio = float(t.param("ratio", 1.5))
    v = round(float(value), decimals)
    prior = ctx.state.setdefault(("numeric_prior", t.id), [])
    enough = len(prior) >= PRIOR_MIN
    if enough:  # one draw, never redrawn: a redraw would favour truths that leave more room
        vals = sorted([v] + [prior[int(k)] for k in rng.integers(0, len(prior), n - 1)])
    else:
        p = int(rng.integers(n))
        vals = [v * ratio ** (k - p) for k in range(n)]
    prior.append(v)
    if len(prior) > PRIOR_SIZE:
        del prior[0]
    if enough and (min(vals) <= 0 or _min_log_step(vals) < _log(ratio) - 1e-9):
        return None  # two options closer than the ratio: not asked (the caller skips it)
    p = vals.index(v)
    options = [fmt_value(x, t.unit, decimals) for x in vals]  # callers drop tiny values whose texts collide
    log_ratio = np.log(ratio)
    keys = tuple(f"step{int(np.floor(np.log(max(x, 1e-9)) / log_ratio))}" for x in vals)
    c = _new(ctx, t, rng, slots, refs, answer_type="choice", value=options[p], rationale=rationale, options=options,
             correct=p, ordered=True, option_keys=keys, answer_key=f"pos{p}", answer_space=_pos_space(n))
    c.context_key = ()
    for k, v_ in kw.items():
        setattr(c, k, v_)
    return c


def count_candidate(ctx, t: Template, rng, slots: dict, refs: Refs | None, value: int, rationale: str,
                    **kw) -> Candidate:
    """A counting question; balanced over ``t.bins`` (edges) or, without bins, over the exact count."""
    key, space = bin_key(value, t.bins)
    c = _new(ctx, t, rng, slots, refs, answer_type="count", value=int(value), rationale=rationale,
             answer=str(int(value)), answer_key=key, answer_space=space)
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def text_candidate(ctx, t: Template, rng, slots: dict, refs: Refs | None, value: str, rationale: str,
                   answer_type: str = "text", **kw) -> Candidate:
    """A free-text (or json/ascii) answer; ``value`` is the answer text. Not balanced unless kw says so."""
    c = _new(ctx, t, rng, slots, refs, answer_type=answer_type, value=value, rationale=rationale, answer=value)
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def object_choice_candidate(ctx, t: Template, rng, slots: dict, refs: Refs, option_ids: Sequence[str],
                            correct_id: str, rationale: str, **kw) -> Candidate:
    """A choice among objects named in ``refs``: options are their phrases.

    When the question names every option in its slots ("Which is taller, {A} or {B}?") the
    answer is balanced as its position among ``option_ids`` (``opt<k>``: A against B) within
    every text feature, so "the lamp is usually the taller one" does not follow from the words.
    In every case each option's category (or phrase, when two options share a category) keeps
    its wins near its expected wins, so no category is a safe blind guess.
    """
    names = [refs.names[refs.ids.index(o)] for o in option_ids]
    keys = [refs.keys[refs.ids.index(o)] for o in option_ids]
    if len(set(keys)) != len(keys):
        keys = names
    k = list(option_ids).index(correct_id)
    named = set(map(str, slots.values()))
    if all(n in named for n in names):  # the question names every option: balance their roles
        c = choice_candidate(ctx, t, rng, slots, refs, names, k, rationale, answer_key=f"opt{k}",
                             answer_space=_opt_space(len(names)), **kw)
    else:  # options only listed: their keys' wins are balanced, and the letter
        c = choice_candidate(ctx, t, rng, slots, refs, names, k, rationale, answer_key=keys[k],
                             answer_space=None, **kw)
    c.option_keys = tuple(keys)
    return c


@functools.lru_cache(maxsize=None)
def _pos_space(n: int) -> tuple[str, ...]:
    return tuple(f"pos{k}" for k in range(n))


@functools.lru_cache(maxsize=None)
def _opt_space(n: int) -> tuple[str, ...]:
    return tuple(f"opt{j}" for j in range(n))
