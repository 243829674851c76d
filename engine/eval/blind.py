"""The blind meter: how well can a QA row be answered from its text alone?

Per template, rows are split by scene (a hash of ``scene_id``) into two halves; three kinds of
text-only model are fitted on one half and scored on the other, and the other way round
(every row is scored once, by models that never saw its scene):

- a classifier over word uni- and bigrams of the question stem (numbers kept as tokens; the
  category names are words of the text): logistic regression for ``bool`` and small-space
  ``text`` answers; for ``choice`` answers a logistic scorer of each option (its words, its
  letter, for numeric options its log value, squared log value and rank among the options,
  and the option's words crossed with the question's words), the highest-scoring option
  being the guess;
- for ``number`` and ``count`` answers a ridge regressor on log(value) from the same features,
  reported as mean relative accuracy (MRA, VSI-Bench's definition) next to the constant guess
  (the fitting half's median);
- rule probes: for every token (word, bigram) the fitting half's majority
  answer when the token is present (for choices: "the option containing the token"), the
  letter most often right, and for numeric options "the option nearest the fitting half's
  median". The probe that wins the most test rows above chance is reported as the strongest
  cue; the blind accuracy of a template is the best of the classifier and the probes.

Chance is uniform over the answer space (``1 / len(choices)``; 1/2 for yes/no; 1 / the number
of distinct answers for text), so an unbalanced answer distribution counts as a shortcut too.
Rows are dicts with the QA row fields of docs/record.md; only ``question`` and ``choices`` are
read as text (never ``objects``: its order and length reveal more than a reader sees).
scikit-learn is imported on first use (``pip install -e '.[eval]'``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

TEXT_FAMILIES = ("text",)  # the question carries a scene description: reading it is the task
NUMERIC = ("number", "count")
MAX_TEXT_CLASSES = 40  # text answers with more distinct values are not scored (free text)
_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
_OPTION_LINE = re.compile(r"^[A-H]\. ")
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)(?:\s|$)")


def _json(v):
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def half(scene_id: str, split: int = 0) -> int:
    """0 or 1: the scene's half in scene split ``split`` (0: a CRC32 of its id; k > 0: a SHA-1
    of ``"k:<id>"``, another split of the same scenes, :func:`score_splits`). CRC32 would not do
    for k > 0: it is affine in its input bits, so a fixed prefix on ids of one length gives the
    same halves or their swap."""
    if split == 0:
        return zlib.crc32(str(scene_id).encode()) & 1
    return hashlib.sha1(f"{split}:{scene_id}".encode()).digest()[0] & 1


def stem(question: str) -> str:
    """The question without its lettered option lines."""
    return "\n".join(line for line in question.split("\n") if not _OPTION_LINE.match(line))


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers ("1.5" stays one token)."""
    return _TOKEN.findall(text.lower())


def ngrams(toks: list[str]) -> list[str]:
    """Unigrams and bigrams of a token list."""
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]


def text_features(row: dict) -> list[str]:
    """What the question text reveals: the uni- and bigrams of its stem (without options).

    Only the text: the row's ``objects`` list would reveal more than a reader sees (its order
    puts a choice question's key second, its length is a count's answer)."""
    return ngrams(tokens(stem(row["question"])))


def _as_number(text: str) -> float | None:
    m = _NUMBER.match(text.strip())
    return float(m.group(1)) if m else None


def answer_label(row: dict) -> str:
    """The answer as a class label: yes/no, the option text, or the answer text."""
    if row["answer_type"] == "choice":
        return _json(row["choices"])[int(row["answer_index"])]
    if row["answer_type"] == "bool":
        v = _json(row["value"])
        return "yes" if v is True or v == "true" else "no"
    return str(row["answer"])


def mra(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean relative accuracy: mean over thresholds 0.50, 0.55, ... 0.95 of the share of rows
    with |pred - truth| / |truth| < 1 - threshold (rows with truth 0 use |pred - truth| < 1 - threshold)."""
    pred, truth = np.asarray(pred, float), np.asarray(truth, float)
    rel = np.abs(pred - truth) / np.where(np.abs(truth) > 1e-9, np.abs(truth), 1.0)
    ths = np.arange(0.5, 0.951, 0.05)
    return float(np.mean([(rel < 1 - t).mean() for t in ths])) if len(truth) else float("nan")


@dataclass
class TemplateScore:
    """The meter's verdict for one template (accuracies as fractions)."""

    template_id: str
    family: str
    task: str
    answer_type: str
    rows: int
    blind: float = float("nan")  # best of classifier and probes (classified forms); MRA (numeric)
    chance: float = float("nan")  # uniform chance (classified); constant-guess MRA (numeric)
    classifier: float = float("nan")
    cue: str = ""
    cue_acc: float = float("nan")
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def excess(self) -> float:
        """Blind minus chance (points as a fraction)."""
        return self.blind - self.chance

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        d = dict(self.__dict__)
        d["excess"] = self.excess
        return d


def _vectorizer():
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=lambda feats: feats, binary=True, min_df=2)


def _fit_lr(X, y):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000).fit(X, y)


def _classes_score(fit_rows, test_rows, labels_fit, labels_test) -> tuple[float, str]:
    """Logistic regression over text features: (accuracy on the test rows, its heaviest
    features, "" when no classifier could be fitted)."""
    if len(set(labels_fit)) < 2:
        guess = labels_fit[0] if labels_fit else None
        return float(np.mean([lab == guess for lab in labels_test])), ""
    vec = _vectorizer()
    try:
        Xf = vec.fit_transform([text_features(r) for r in fit_rows])
    except ValueError:  # empty vocabulary
        return float(np.mean([lab == Counter(labels_fit).most_common(1)[0][0] for lab in labels_test])), ""
    model = _fit_lr(Xf, labels_fit)
    pred = model.predict(vec.transform([text_features(r) for r in test_rows]))
    return float(np.mean([p == t for p, t in zip(pred, labels_test)])), _top_weights(model, vec.get_feature_names_out())


def _top_weights(model, names, k: int = 2) -> str:
    """The ``k`` features with the largest weights and the answer they push towards."""
    coef = np.atleast_2d(model.coef_)
    out = []
    if coef.shape[0] == 1:
        for j in np.argsort(-np.abs(coef[0]))[:k]:
            out.append(f"'{names[j]}' -> {model.classes_[int(coef[0, j] > 0)]}")
    else:
        flat = np.argsort(-coef, axis=None)[:k]
        for f in flat:
            c, j = np.unravel_index(f, coef.shape)
            out.append(f"'{names[j]}' -> {model.classes_[c]}")
    return "classifier: " + ", ".join(out)


def _option_features(row: dict, k: int, choices: list[str], nums: list[float | None]) -> list[str] | dict:
    opt = choices[k]
    otoks = ngrams(tokens(opt))
    feats = {f"o:{t}": 1.0 for t in otoks}
    feats[f"pos:{k}"] = 1.0
    feats[f"n:{len(choices)}"] = 1.0
    for q in set(tokens(stem(row["question"]))):  # the question's words crossed with the option's
        for t in tokens(opt):
            feats[f"q:{q}&o:{t}"] = 1.0
    if all(x is not None and x > 0 for x in nums):
        logs = np.log(np.asarray(nums, float))
        feats["num:log"] = float(logs[k])
        feats["num:log2"] = float(logs[k] ** 2)
        feats["num:rank"] = float(np.argsort(np.argsort(logs))[k]) / max(1, len(nums) - 1)
    return feats


def _choice_score(fit_rows, test_rows) -> tuple[float, str]:
    """Logistic option scorer: (accuracy of its argmax option on the test rows, its heaviest
    features; nan and "" when the fitting rows never show a right and a wrong option)."""
    from sklearn.feature_extraction import DictVectorizer

    def pairs(rows):
        X, y = [], []
        for r in rows:
            ch = _json(r["choices"])
            nums = [_as_number(c) for c in ch]
            for k in range(len(ch)):
                X.append(_option_features(r, k, ch, nums))
                y.append(int(k == int(r["answer_index"])))
        return X, np.asarray(y)

    Xf, yf = pairs(fit_rows)
    if len(set(yf.tolist())) < 2:
        return float("nan"), ""
    vec = DictVectorizer()
    model = _fit_lr(vec.fit_transform(Xf), yf)
    names = vec.get_feature_names_out()
    top = "classifier: " + ", ".join(f"'{names[j]}' {model.coef_[0, j]:+.1f}"
                                     for j in np.argsort(-np.abs(model.coef_[0]))[:2])
    s = model.decision_function(vec.transform(pairs(test_rows)[0]))
    hits, start = 0, 0
    for r in test_rows:
        n = len(_json(r["choices"]))
        hits += int(int(np.argmax(s[start:start + n])) == int(r["answer_index"]))
        start += n
    return hits / max(1, len(test_rows)), top


def _option_tokens(row: dict, opt: str) -> set[str]:
    """Tokens of one option for the probes: its n-grams, and its words crossed with every word
    of the question (the target of "which object hides the lamp?" is among them)."""
    q = set(tokens(stem(row["question"])))
    o = tokens(opt)
    return set(ngrams(o)) | {f"{a}&{t}" for a in q for t in o}


def _strength(hits: int, n: int, chance: float) -> float:
    """A probe's strength on the fitting half: hits above chance less one standard deviation
    of the hits of a chance guesser, so a broad strong cue outranks a lucky rare one."""
    return hits - chance * n - math.sqrt(n * chance * (1 - chance))


def _probes(fit_rows, test_rows, chance: float, min_support: int) -> tuple[str, float, float]:
    """Rule probes, chosen on the fitting half and scored on the test half.

    Returns (the strongest cue, its accuracy on the test rows it covers, the best probe's
    accuracy over every test row, backing off to the majority answer or letter where it is silent).
    A probe's strength is its hits above chance on the rows it covers (fitting half)."""
    choice = fit_rows[0]["answer_type"] == "choice"
    probes = []  # (name, fit excess hits, predict(row) -> label/index or None)
    if choice:
        letters = Counter(int(r["answer_index"]) for r in fit_rows)
        top = letters.most_common(1)[0][0]
        probes.append((f"letter {'ABCDEFGH'[top]}", _strength(letters[top], len(fit_rows), chance), lambda r, k=top: k))
        truths = [math.log(v) for r in fit_rows
                  if (v := _as_number(_json(r["choices"])[int(r["answer_index"])])) is not None and v > 0]
        if len(truths) == len(fit_rows):
            med = float(np.median(truths))

            def nearest(r, med=med):
                nums = [_as_number(c) for c in _json(r["choices"])]
                if any(x is None or x <= 0 for x in nums):
                    return None
                return int(np.argmin([abs(math.log(x) - med) for x in nums]))

            hits = sum(nearest(r) == int(r["answer_index"]) for r in fit_rows)
            probes.append((f"option nearest the median ({math.exp(med):.3g})", _strength(hits, len(fit_rows), chance), nearest))
        wins, shows = Counter(), Counter()
        for r in fit_rows:
            right = int(r["answer_index"])
            for k, o in enumerate(_json(r["choices"])):
                for t in _option_tokens(r, o):
                    shows[t] += 1
                    wins[t] += int(k == right)
        rate = {t: wins[t] / shows[t] for t in shows if shows[t] >= min_support}

        def best_rate(r):
            sc = [max((rate[t] for t in _option_tokens(r, o) if t in rate), default=-1.0) for o in _json(r["choices"])]
            return int(np.argmax(sc)) if max(sc) >= 0 else None

        hits = sum(best_rate(r) == int(r["answer_index"]) for r in fit_rows)
        probes.append(("option whose words win most often", _strength(hits, len(fit_rows), chance), best_rate))
        for t, q in rate.items():
            def pick(r, t=t):
                ks = [k for k, o in enumerate(_json(r["choices"])) if t in _option_tokens(r, o)]
                return ks[0] if len(ks) == 1 else None
            probes.append((f"option with '{t}' (right {100 * q:.0f}% when fitted)", _strength(wins[t], shows[t], chance), pick))
        backoff = lambda r: top  # noqa: E731
        truth = lambda r: int(r["answer_index"])  # noqa: E731
    else:
        labels = Counter(answer_label(r) for r in fit_rows)
        major = labels.most_common(1)[0][0]
        probes.append((f"always '{major}'", _strength(labels[major], len(fit_rows), chance), lambda r, m=major: m))
        by_tok: dict[str, Counter] = defaultdict(Counter)
        for r in fit_rows:
            lab = answer_label(r)
            for t in set(text_features(r)):
                by_tok[t][lab] += 1
        for t, c in by_tok.items():
            n = sum(c.values())
            if n < min_support:
                continue
            lab, k = c.most_common(1)[0]
            probes.append((f"'{t}' -> {lab}", _strength(k, n, chance),
                           lambda r, t=t, lab=lab: lab if t in set(text_features(r)) else None))
        backoff = lambda r: major  # noqa: E731
        truth = answer_label
    name, _, fn = max(probes, key=lambda p: p[1])  # strength already net of one standard deviation
    covered = [(fn(r), truth(r)) for r in test_rows]
    cov = [p == y for p, y in covered if p is not None]
    cue_acc = float(np.mean(cov)) if cov else float("nan")
    total = float(np.mean([(p if p is not None else backoff(r)) == y for (p, y), r in zip(covered, test_rows)]))
    return f"{name} [{len(cov)} rows]", cue_acc, total


def _fold(fit: list[dict], test: list[dict], min_support: int) -> dict:
    """One fit-on-``fit``, score-on-``test`` pass of the models of the rows' answer type."""
    at = fit[0]["answer_type"]
    out = {"n": len(test), "top": ""}
    if at in NUMERIC:
        from sklearn.linear_model import Ridge

        y_fit = np.array([float(_json(r["value"])) for r in fit])
        y_test = np.array([float(_json(r["value"])) for r in test])
        out["chance"] = mra(np.full(len(y_test), float(np.median(y_fit))), y_test)
        vec = _vectorizer()
        try:
            Xf = vec.fit_transform([text_features(r) for r in fit])
            model = Ridge(alpha=1.0).fit(Xf, np.log(np.maximum(y_fit, 1e-3)))
            out["classifier"] = mra(np.exp(model.predict(vec.transform([text_features(r) for r in test]))), y_test)
        except ValueError:  # empty vocabulary
            out["classifier"] = out["chance"]
        if at == "count":
            major = Counter(y_fit.tolist()).most_common(1)[0][0]
            out["exact_constant"] = float(np.mean(y_test == major))
        return out
    if at == "choice":
        out["chance"] = float(np.mean([1.0 / len(_json(r["choices"])) for r in test]))
        out["classifier"], out["top"] = _choice_score(fit, test)
    else:
        out["chance"] = 0.5 if at == "bool" else 1.0 / len({answer_label(r) for r in fit + test})
        out["classifier"], out["top"] = _classes_score(fit, test, [answer_label(r) for r in fit],
                                                       [answer_label(r) for r in test])
    out["cue"], out["cue_acc"], out["probe"] = _probes(fit, test, out["chance"], min_support)
    return out


def score_template(rows: list[dict], min_rows: int = 40, min_support: int = 10, split: int = 0) -> TemplateScore:
    """The meter's verdict for the rows of one template (see the module doc).

    Two folds: fit on the scenes of one half and score on the other, then the other way round;
    accuracies are averaged over both test halves (every row is scored once), ``extra['se']``
    is the standard error of the classified accuracy (sqrt(p(1-p)/rows)). The cue is the one
    the first fold chose. ``split`` picks the scene split (:func:`half`)."""
    r0 = rows[0]
    s = TemplateScore(r0["template_id"], r0["family"], r0["task"], r0["answer_type"], len(rows))
    halves = [[r for r in rows if half(r["scene_id"], split) == h] for h in (0, 1)]
    at = r0["answer_type"]
    if min(len(h) for h in halves) < min_rows // 2:
        s.note = "too few rows"
        return s
    if at == "text":
        n_labels = len({answer_label(r) for r in rows})
        if n_labels > MAX_TEXT_CLASSES:
            s.note = f"free text ({n_labels} distinct answers)"
            return s
    elif at not in NUMERIC + ("bool", "choice"):
        s.note = f"{at} answers are not scored"
        return s
    if r0["family"] in TEXT_FAMILIES:
        s.note = "answerable from its text by design (scored, not judged)"
    folds = [_fold(halves[0], halves[1], min_support), _fold(halves[1], halves[0], min_support)]
    w = np.array([f["n"] for f in folds], float)

    def avg(key):
        vals = np.array([f.get(key, np.nan) for f in folds], float)
        return float(np.nansum(vals * w) / w[~np.isnan(vals)].sum()) if (~np.isnan(vals)).any() else float("nan")

    s.chance, s.classifier = avg("chance"), avg("classifier")
    if at in NUMERIC:
        s.blind = max(s.classifier, s.chance)
        s.cue = "text regressor" if s.classifier > s.chance + 0.02 else "none beyond the constant"
        if at == "count":
            s.extra["exact_constant"] = avg("exact_constant")
        return s
    probe = avg("probe")
    s.blind = max(x for x in (s.classifier, probe) if not math.isnan(x))
    s.cue, s.cue_acc = folds[0]["cue"], folds[0]["cue_acc"]
    if s.classifier > probe + 0.01:  # the classifier found more than any single rule
        s.cue, s.cue_acc = folds[0]["top"], s.classifier
    s.extra["probe"] = probe
    s.extra["se"] = math.sqrt(max(s.blind * (1 - s.blind), 1e-9) / len(rows))
    return s


def shuffled_answers(rows: list[dict], rng: np.random.Generator) -> list[dict]:
    """Copies of ``rows`` whose answers are permuted within each template (for choices, the
    right position among rows with the same number of options): the text no longer tells
    anything, so the meter's scores on them show its own noise and bias (its null)."""
    out = [dict(r) for r in rows]
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(out):
        n = len(_json(r["choices"])) if r["answer_type"] == "choice" else 0
        groups[(r["template_id"], n)].append(i)
    for (_, n), idx in groups.items():
        perm = rng.permutation(len(idx))
        src = [out[idx[int(j)]] for j in perm]
        vals = [(r.get("answer_index"), r.get("value"), r.get("answer")) for r in src]
        for i, (ai, val, ans) in zip(idx, vals):
            r = out[i]
            if r["answer_type"] == "choice":
                ch = _json(r["choices"])
                r["answer_index"], r["value"] = ai, ch[int(ai)]
                r["answer"] = f"{'ABCDEFGH'[int(ai)]}. {ch[int(ai)]}"
            else:
                r["value"], r["answer"] = val, ans
    return out


def score_rows(rows: list[dict], min_rows: int = 40, min_support: int = 10, split: int = 0) -> list[TemplateScore]:
    """Per template (sorted by id), the meter's verdict over ``rows`` on scene split ``split``."""
    by_t: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r.get("question"):
            by_t[r["template_id"]].append(r)
    return [score_template(by_t[t], min_rows, min_support, split) for t in sorted(by_t)]


def score_splits(rows: list[dict], splits: int, min_rows: int = 40, min_support: int = 10) -> list[TemplateScore]:
    """Per template, the verdict averaged over scene splits ``0..splits-1`` (each row is scored
    once per split by models fitted on the other half of that split's scenes). One split's excess
    moves by a few points with which scenes fall in which half; the mean over several is the
    steadier verdict. Each returned score is split 0's with ``blind``, ``classifier`` and
    ``chance`` replaced by the means, and ``extra['split_excess']`` listing every split's excess;
    the cue stays split 0's."""
    runs = [score_rows(rows, min_rows, min_support, k) for k in range(splits)]
    out = []
    for per in zip(*runs):
        s = per[0]
        if not math.isnan(s.blind):
            excess = [x.excess for x in per]  # before split 0's score (``s``) takes the means
            se = float(np.nanmean([x.extra.get("se", np.nan) for x in per]))
            for key in ("blind", "classifier", "chance"):
                setattr(s, key, float(np.nanmean([getattr(x, key) for x in per])))
            s.extra["split_excess"], s.extra["se"] = excess, se
        out.append(s)
    return out


def report(scores: list[TemplateScore], tolerance: float = 0.05) -> tuple[str, bool]:
    """A text table of ``scores`` and whether every classified template is within ``tolerance``
    of chance (templates with too few rows are listed, not judged)."""
    lines = [f"{'template (answer type)':<46}{'rows':>6}{'blind':>7}{'chance':>7}{'excess':>7}{'+-se':>6}  strongest cue"]
    ok, worst = True, (-1.0, "")
    for s in scores:
        name = f"{s.template_id} ({s.answer_type})"
        if s.note and math.isnan(s.blind):
            lines.append(f"{name:<46}{s.rows:>6}  {s.note}")
            continue
        if s.answer_type in NUMERIC:
            lines.append(f"{name:<46}{s.rows:>6}{100 * s.blind:>6.1f}%{100 * s.chance:>6.1f}%"
                         f"{100 * s.excess:>+7.1f}{'':>6}  MRA: text regressor vs constant guess; {s.cue}")
            continue
        judged = not s.note
        flag = judged and s.excess > tolerance
        ok &= not flag
        if judged and s.excess > worst[0]:
            worst = (s.excess, s.template_id)
        cue = f"{s.cue} ({100 * s.cue_acc:.0f}%)" if s.cue else ""
        if s.note:
            cue = f"[{s.note}] {cue}"
        lines.append(f"{name:<46}{s.rows:>6}{100 * s.blind:>6.1f}%{100 * s.chance:>6.1f}%"
                     f"{100 * s.excess:>+7.1f}{100 * s.extra['se']:>6.1f}  {cue}{'  <-- over' if flag else ''}")
    lines.append(f"worst choice/bool/text excess over chance: {100 * worst[0]:+.1f} points ({worst[1]}); "
                 f"{'every one within' if ok else 'NOT every one within'} {100 * tolerance:.0f} points")
    return "\n".join(lines), ok
