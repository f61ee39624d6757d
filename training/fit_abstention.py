"""Fit the one decision to answer or abstain, on questions the reader never learnt from; with
--write, store it in the reader's calibration (qa/models/reader.json), threshold included.

    python -m training.fit_abstention --fit benchmarks/data/wikinews-2020h2-fit.json \
        benchmarks/data/wikinews-2019-2020h1-train.json benchmarks/data/out-of-archive-fit.json \
        --held-out benchmarks/data/wikinews-2020h2-test.json \
        benchmarks/data/out-of-archive-test.json \
        [--dev-a ../shared/data/squad2-dev-a.json] [--cache DIR] [--write]

Files that share articles (the news sets and the out-of-archive sets all hold the demo archive)
are indexed together once, so every question is asked of the whole archive, as `qa ask` asks it.
dev-a (Wikipedia, adversarial unanswerable questions; its own index) is reported, in its two
halves, and not fitted on: its questions are not a news reader's, and fitted on they pull the
decision away from the news.

For every question the ranker's best sentences are read to the calibration's depth and kept
(cached under --cache), then for each type penalty and fitting-span margin:

- the cited sentence is the best read one (span score + rank weight × ranker score − the
  penalty when its span is not the kind of answer asked for), read in two steps as `qa ask`
  reads (SentenceAnswerer.read);
- a logistic regression of "the cited sentence holds a gold answer" on DECISION_FEATURES, each
  fit file weighing the same; questions holding a term no article holds are abstained on before
  this and left out of it; those whose cited article lacks a name the question gives are in
  it, and abstained on whatever it says (`qa.answering.decision.ruled_out`);
- the threshold with the best mean over the fit files of min(abstain P, R), each file weighing
  the same (the out-of-archive questions as much as the news ones).

The setting with the best mean of citation accuracy and min(abstain P, R) on the fit files is
kept; figures are printed for every file, the held-out ones last.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from tqdm import tqdm  # noqa: E402

from qa.answering.answer_kind import question_kind  # noqa: E402
from qa.answering.answerer import SentenceAnswerer  # noqa: E402
from qa.answering.decision import DECISION_FEATURES, ruled_out  # noqa: E402
from qa.answering.grounding import cited_article_evidence, missing_terms  # noqa: E402
from qa.answering.ranker import Candidate, QuestionTerms  # noqa: E402
from qa.answering.spans import ReadSentence, bounded_span, choose_span  # noqa: E402
from qa.config import load_settings  # noqa: E402
from qa.evaluation.evaluate import index_dataset  # noqa: E402
from qa.evaluation.metrics import best_f1, contains_answer, precision_recall  # noqa: E402
from qa.evaluation.squad import SquadDataset, SquadQuestion, load_squad  # noqa: E402
from qa.ingest.sentences import SpacySplitter  # noqa: E402
from qa.models.reader import (  # noqa: E402
    BUNDLED_WEIGHTS,
    AbstentionModel,
    ReaderCalibration,
    Reading,  # noqa: E402
    SpanReader,
)
from qa.types import Article  # noqa: E402
from qa.wiring import make_embedder  # noqa: E402
from training.fit_answer_model import TRAIN_TITLES  # noqa: E402

T = TypeVar("T")

TYPE_PENALTIES = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0)
MARGINS = (2.0, 4.0, 8.0)


@dataclass
class Asked:
    """One question with what deciding needs: whether a term is missing, and the first `depth`
    ranked sentences with their readings, the question's terms (grounding evidence is computed
    from them when deciding, so that a change to it needs no new reading) and whether each
    sentence answers."""

    question: SquadQuestion
    group: str
    missing: bool
    base_logit: float
    kind: str | None
    candidates: list[Candidate]
    readings: list[Reading]
    terms: QuestionTerms
    labels: list[bool]


def ask_all(
    dataset: SquadDataset,
    group_of: dict[str, str],
    calibration: ReaderCalibration,
    reader: SpanReader,
) -> list[Asked]:
    settings = load_settings()
    embedder = make_embedder(settings)
    with tempfile.TemporaryDirectory(prefix="qa-fit-") as folder:
        components, _ = index_dataset(
            dataset, settings, embedder, SpacySplitter(), Path(folder), reader
        )
        try:
            pipeline = components.pipeline
            pipeline.index.refresh()  # Pipeline.retrieve asks the index as last refreshed
            answerer = pipeline.answerer
            assert isinstance(answerer, SentenceAnswerer)
            asked = []
            for q in tqdm(dataset.questions, desc="asking", unit="q"):
                vector, chunks = pipeline.retrieve(q.question)
                terms, ranked = answerer.rank(q.question, vector, chunks)
                missing = bool(missing_terms(q.question, components.lexical))
                head = ranked[: calibration.depth]
                readings = reader.read(q.question, [c.sentence.text for c in head]) if head else []
                asked.append(
                    Asked(
                        q,
                        group_of[q.id],
                        missing,
                        answerer.abstain_logit(q.question, terms, ranked) if ranked else 0.0,
                        question_kind(q.question),
                        head,
                        readings,
                        terms,
                        [
                            not q.is_impossible and contains_answer(c.sentence.text, q.answers)
                            for c in head
                        ],
                    )
                )
        finally:
            components.close()
    return asked


@dataclass(frozen=True)
class Choice:
    """What one question comes to at one setting: abstained on by rule (a missing term), or the
    cited sentence's decision features, whether it holds a gold answer, the short answer, and
    whether evidence that settles the decision alone abstains on it (`decision.ruled_out`)."""

    ruled_out: bool
    row: np.ndarray
    right: bool
    f1_if_answered: float
    overruled: bool = False


def spans_read(a: Asked, margin: float) -> list[ReadSentence]:
    kind = question_kind(a.question.question)
    return [choose_span(kind, c, r, margin) for c, r in zip(a.candidates, a.readings, strict=True)]


def choose(
    a: Asked, read: list[ReadSentence], calibration: ReaderCalibration, penalty: float
) -> Choice:
    """The sentence SentenceAnswerer.read would cite, as a Choice."""
    if a.missing or not read:
        return Choice(True, np.zeros(len(DECISION_FEATURES)), False, 0.0)
    first = calibration.first_depth if 0 < calibration.first_depth < len(read) else len(read)
    if any(r.fits and r.span_score >= calibration.stop_score for r in read[:first]):
        read = read[:first]
    scores = [
        r.span_score + calibration.rank_weight * r.candidate.score - (0 if r.fits else penalty)
        for r in read
    ]
    i = int(np.argmax(scores))
    top = read[i]
    reader_logit = calibration.reader_logit(top.span_score, a.base_logit)
    evidence = cited_article_evidence(a.question.question, a.terms, top.candidate)
    values = {"reader": reader_logit, **evidence, "type_unfit": float(not top.fits)}
    overruled = ruled_out(evidence)
    span = bounded_span(top.candidate.sentence, top.start, top.end)
    return Choice(
        False,
        np.array([values[n] for n in DECISION_FEATURES]),
        a.labels[i],
        best_f1(span, a.question.answers) if not a.question.is_impossible else 0.0,
        overruled,
    )


def figures(
    asked: Sequence[Asked], choices: Sequence[Choice], logits: np.ndarray, threshold: float
) -> dict[str, float]:
    abstained = [
        c.ruled_out or c.overruled or 1 / (1 + np.exp(-x)) < threshold
        for c, x in zip(choices, logits, strict=True)
    ]
    answerable = [i for i, a in enumerate(asked) if not a.question.is_impossible]
    precision, recall = precision_recall(abstained, [a.question.is_impossible for a in asked])
    return {
        "questions": len(asked),
        "citation": float(np.mean([choices[i].right for i in answerable])) if answerable else 0.0,
        "f1": float(
            np.mean([0.0 if abstained[i] else choices[i].f1_if_answered for i in answerable])
        )
        if answerable
        else 0.0,
        "abstain_p": precision,
        "abstain_r": recall,
    }


def logits_of(choices: Sequence[Choice], model: AbstentionModel | None) -> np.ndarray:
    rows = np.array([c.row for c in choices])
    if model is None:
        return np.asarray(rows[:, 0])
    weights = np.array([model.weights[n] for n in DECISION_FEATURES])
    return np.asarray(rows @ weights + model.bias)


def fit(asked: Sequence[Asked], choices: Sequence[Choice]) -> tuple[dict[str, float], float]:
    """Logistic regression of "the cited sentence answers", each file weighing the same. A
    piece of grounding evidence that comes out counting for answering (a positive weight on
    something missing) is left out and the rest refitted: missing evidence may only count
    against an answer."""
    rows, labels, weights = [], [], []
    for group in sorted({a.group for a in asked}):
        members = [
            c for a, c in zip(asked, choices, strict=True) if a.group == group and not c.ruled_out
        ]
        for c in members:
            rows.append(c.row)
            labels.append(c.right)
            weights.append(1.0 / len(members))
    used = list(range(len(DECISION_FEATURES)))
    while True:
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(
            np.array(rows)[:, used], np.array(labels), sample_weight=np.array(weights) * len(rows)
        )
        coefficients = dict.fromkeys(DECISION_FEATURES, 0.0)
        for column, value in zip(used, model.coef_[0], strict=True):
            coefficients[DECISION_FEATURES[column]] = float(value)
        wrong_way = [i for i in used if i > 0 and coefficients[DECISION_FEATURES[i]] > 0]
        if not wrong_way:
            return coefficients, float(model.intercept_[0])
        used = [i for i in used if i not in wrong_way]


def best_threshold(asked: Sequence[Asked], choices: Sequence[Choice], logits: np.ndarray) -> float:
    """The threshold with the best mean over the files of min(abstain precision, recall): each
    file weighs the same, so the out-of-archive questions count as much as the news ones."""
    groups = sorted({a.group for a in asked})
    members = [[i for i, a in enumerate(asked) if a.group == g] for g in groups]
    best = (-1.0, 0.5)
    for threshold in np.arange(0.05, 0.951, 0.01):
        scores = []
        for index in members:
            f = figures(
                [asked[i] for i in index],
                [choices[i] for i in index],
                logits[index],
                float(threshold),
            )
            scores.append(min(f["abstain_p"], f["abstain_r"]))
        if np.mean(scores) > best[0]:
            best = (float(np.mean(scores)), round(float(threshold), 2))
    return best[1]


def load_all(paths: Sequence[Path]) -> tuple[SquadDataset, dict[str, str]]:
    """The files' questions over the union of their articles (by id), and each question's file."""
    articles: dict[str, Article] = {}
    questions: list[SquadQuestion] = []
    group_of: dict[str, str] = {}
    for path in paths:
        data = load_squad(path)
        for article in data.articles:
            articles.setdefault(article.id, article)
        for q in data.questions:
            q = dataclasses.replace(q, id=f"{path.stem}:{q.id}")
            questions.append(q)
            group_of[q.id] = path.stem
    return SquadDataset(list(articles.values()), questions), group_of


def cached(name: str, cache: Path, build: Callable[[], T]) -> T:
    path = cache / f"{name}.pkl"
    if path.exists():
        stored: T = pickle.loads(path.read_bytes())
        return stored
    value = build()
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", type=Path, nargs="+", required=True)
    parser.add_argument("--held-out", type=Path, nargs="*", default=[])
    parser.add_argument("--dev-a", type=Path, help="SQuAD 2.0 dev-a (split by TRAIN_TITLES)")
    parser.add_argument("--weights", type=Path, default=BUNDLED_WEIGHTS)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qa-fit")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    calibration = ReaderCalibration.load(args.weights.with_suffix(".json"))
    reader = SpanReader(
        weights=args.weights,
        calibration=dataclasses.replace(calibration, abstention=None),
        runtime=load_settings().answer.reader_runtime,
    )
    key = hashlib.sha256(
        "|".join(str(p) for p in [*args.fit, *args.held_out, args.dev_a]).encode()
        + args.weights.read_bytes()[: 1 << 20]
    ).hexdigest()[:12]
    dataset, group_of = load_all([*args.fit, *args.held_out])
    asked = cached(
        f"news-{key}", args.cache, lambda: ask_all(dataset, group_of, calibration, reader)
    )
    if args.dev_a:
        dev = load_squad(args.dev_a)
        dev_groups = {
            q.id: "dev-a-fit" if q.article_id.split("#")[0] in TRAIN_TITLES else "dev-a-held-out"
            for q in dev.questions
        }
        asked += cached(
            f"dev-a-{key}", args.cache, lambda: ask_all(dev, dev_groups, calibration, reader)
        )
    fit_groups = {p.stem for p in args.fit}
    fit_asked = [a for a in asked if a.group in fit_groups]

    groups = sorted({a.group for a in asked})

    def report(choices: Sequence[Choice], model: AbstentionModel | None, threshold: float) -> None:
        logits = logits_of(choices, model)
        for group in groups:
            index = [i for i, a in enumerate(asked) if a.group == group]
            tag = "fit" if group in fit_groups else "held out"
            f = figures(
                [asked[i] for i in index], [choices[i] for i in index], logits[index], threshold
            )
            print(f"  {group:28s} {tag:8s}", _fmt(f))

    print("the reader's logit alone, threshold 0.28, no type penalty (a missing term abstains):")
    plain = [choose(a, spans_read(a, 0.0), calibration, 0.0) for a in asked]
    report(plain, None, 0.28)

    fit_index = [i for i, a in enumerate(asked) if a.group in fit_groups]
    best = None
    for margin in MARGINS:
        read = [spans_read(a, margin) for a in asked]
        for penalty in TYPE_PENALTIES:
            choices = [choose(a, r, calibration, penalty) for a, r in zip(asked, read, strict=True)]
            fit_choices = [choices[i] for i in fit_index]
            weights, bias = fit(fit_asked, fit_choices)
            logits = logits_of(choices, AbstentionModel(weights, bias, 0.5))
            threshold = best_threshold(fit_asked, fit_choices, logits[fit_index])
            per_group = []
            for group in sorted(fit_groups):
                index = [i for i, a in enumerate(asked) if a.group == group]
                per_group.append(
                    figures(
                        [asked[i] for i in index],
                        [choices[i] for i in index],
                        logits[index],
                        threshold,
                    )
                )
            score = np.mean(
                [f["citation"] for f in per_group if f["citation"]]
                + [min(f["abstain_p"], f["abstain_r"]) for f in per_group if f["abstain_r"]]
            )
            print(f"type penalty {penalty} margin {margin}: fit {score:.4f}, threshold {threshold}")
            if best is None or score > best[0]:
                best = (score, penalty, margin, AbstentionModel(weights, bias, threshold), choices)
    assert best is not None
    _, penalty, margin, model, choices = best
    print(f"chosen: type penalty {penalty}, fitting-span margin {margin}, {model}")
    report(choices, model, model.threshold)
    if args.write:
        chosen = dataclasses.replace(
            calibration,
            type_penalty=penalty,
            fitting_span_margin=margin,
            abstention=AbstentionModel(
                {k: round(v, 5) for k, v in model.weights.items()},
                round(model.bias, 5),
                model.threshold,
            ),
        )
        chosen.write(args.weights.with_suffix(".json"))
        print(f"wrote {args.weights.with_suffix('.json')}")


def _fmt(f: dict[str, float]) -> str:
    return (
        f"n {f['questions']:4d}  citation {f['citation']:.3f}  f1 {f['f1']:.3f}  "
        f"abstain P {f['abstain_p']:.3f} R {f['abstain_r']:.3f}"
    )


if __name__ == "__main__":
    main()
