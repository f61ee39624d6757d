"""Fine-tune the extractive reader of qa/reader.py and choose how the answerer combines it; with
--write, store the weights and the calibration in qa/models/reader.{safetensors,json}.

    python benchmarks/fit_reader.py ../shared/data/squad2-dev-a.json [--cache FILE] [--write]

Uses the same split as fit_answer_model.py (run that first if the ranker changed): only the
questions on its TRAIN_TITLES are learnt from; the other articles give the held-out figures.

1. Training pairs: for each question, the ranker's best READER_DEPTH sentences; a sentence that
   holds a gold answer points at it, the others (up to NEGATIVES of them, hardest first, and
   every sentence of an unanswerable question) point at [CLS], "no answer here".
2. A calibration reader is fine-tuned without CALIBRATION_TITLE; on that article's questions
   the combination weights are chosen (rank weight by citation accuracy, span weight by answer
   F1, the answerability logistic regression, and the threshold that balances abstain precision
   and recall), so none of them is chosen on what the reader learnt from.
3. The shipped reader is fine-tuned on all of TRAIN_TITLES with the same settings.

CPU, 2 threads: about 10 minutes per fine-tuning. Seeded; the word embeddings stay frozen, so
only the other weights (float16, about 20 MB) are written.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from fit_answer_model import Example, load_examples  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from tqdm import tqdm  # noqa: E402
from transformers import AutoModelForQuestionAnswering, AutoTokenizer  # noqa: E402

from qa.answer import (  # noqa: E402
    SentenceAnswerer,
    combine_reading,
    logistic,
    rank_candidates,
)
from qa.embed import resolve_model_path  # noqa: E402
from qa.metrics import best_f1, contains_answer, precision_recall  # noqa: E402
from qa.reader import (  # noqa: E402
    BASE_MODEL,
    BUNDLED_WEIGHTS,
    MAX_TOKENS,
    ReaderCalibration,
    SpanReader,
)
from qa.span import SpanBonus  # noqa: E402

CALIBRATION_TITLE = "1973_oil_crisis"
READER_DEPTH = 8
NEGATIVES = 4
EPOCHS = 2
BATCH = 16
LEARNING_RATE = 1e-4
SEED = 0


def article(example: Example) -> str:
    return example.question.article_id.split("#")[0]


def answer_offsets(text: str, answers: tuple[str, ...] | list[str]) -> tuple[int, int] | None:
    """Where a gold answer first occurs in the sentence (exact case first, then any case)."""
    for haystack, transform in ((text, str), (text.lower(), str.lower)):
        for answer in answers:
            found = haystack.find(transform(answer))
            if found >= 0 and answer:
                return found, found + len(answer)
    return None


def training_pairs(examples: list[Example]) -> list[tuple[str, str, tuple[int, int] | None]]:
    pairs: list[tuple[str, str, tuple[int, int] | None]] = []
    for e in examples:
        negatives = 0
        for candidate, right in zip(
            e.candidates[:READER_DEPTH], e.labels[:READER_DEPTH], strict=True
        ):
            text = candidate.sentence.text
            span = None
            if right and not e.question.is_impossible:
                span = answer_offsets(text, e.question.answers)
            if span is not None:
                pairs.append((e.question.question, text, span))
            elif not right and negatives < NEGATIVES:
                pairs.append((e.question.question, text, None))
                negatives += 1
    return pairs


def token_targets(encoded: Any, row: int, span: tuple[int, int] | None) -> tuple[int, int]:
    """Start and end token of the answer span in the encoded pair; (0, 0) = [CLS], no answer
    (also when truncation cut the answer off)."""
    if span is None:
        return 0, 0
    offsets = encoded["offset_mapping"][row].tolist()
    tokens = [i for i, s in enumerate(encoded.sequence_ids(row)) if s == 1]
    first = next((i for i in tokens if offsets[i][0] <= span[0] < offsets[i][1]), None)
    last = next((i for i in tokens if offsets[i][0] < span[1] <= offsets[i][1]), None)
    if first is None or last is None or last < first:
        return 0, 0
    return first, last


def fine_tune(pairs: list[tuple[str, str, tuple[int, int] | None]]) -> tuple[Any, Any]:
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    path = str(resolve_model_path(BASE_MODEL))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForQuestionAnswering.from_pretrained(path)
    model.bert.embeddings.word_embeddings.weight.requires_grad = False
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=LEARNING_RATE, weight_decay=0.01)
    steps = math.ceil(len(pairs) / BATCH) * EPOCHS
    warmup = 0.1 * steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, step / warmup) * max(0.0, (steps - step) / steps)
    )
    model.train()
    order = list(pairs)
    with tqdm(total=steps, desc="fine-tune") as bar:
        for _ in range(EPOCHS):
            random.shuffle(order)
            for first in range(0, len(order), BATCH):
                batch = order[first : first + BATCH]
                encoded = tokenizer(
                    [q for q, _, _ in batch],
                    [s for _, s, _ in batch],
                    truncation="only_second",
                    max_length=MAX_TOKENS,
                    padding=True,
                    return_offsets_mapping=True,
                    return_tensors="pt",
                )
                targets = [token_targets(encoded, i, span) for i, (_, _, span) in enumerate(batch)]
                encoded.pop("offset_mapping")
                loss = model(
                    **encoded,
                    start_positions=torch.tensor([s for s, _ in targets]),
                    end_positions=torch.tensor([e for _, e in targets]),
                ).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval(), tokenizer


def save_weights(model: Any, path: Path) -> None:
    tuned = {
        name: tensor.detach().to(torch.float16).contiguous()
        for name, tensor in model.state_dict().items()
        if not name.endswith("word_embeddings.weight")
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tuned, str(path))


def ranked_examples(examples: list[Example], answerer: SentenceAnswerer) -> list[Example]:
    """The cached candidates in the order the shipped ranker puts them."""
    ranked = []
    for e in examples:
        order = rank_candidates(
            e.candidates, answerer.sentence_weights, answerer.model.sentence_bias
        )
        labels = [contains_answer(c.sentence.text, e.question.answers) for c in order]
        ranked.append(Example(e.question, e.terms, order, labels))
    return ranked


class Read:
    """One question's evidence for choosing the combination: the ranker's candidates, their
    readings and the fitted answerability logit."""

    def __init__(self, e: Example, reader: SpanReader, answerer: SentenceAnswerer) -> None:
        self.example = e
        self.head = e.candidates[:READER_DEPTH]
        self.readings = reader.read(e.question.question, [c.sentence.text for c in self.head])
        self.best = [r.best_span()[0] for r in self.readings]
        self.base_logit = (
            answerer.abstain_logit(e.question.question, e.terms, e.candidates)
            if e.candidates
            else -10.0
        )

    def top(self, rank_weight: float) -> int:
        scores = [c.score + rank_weight * b for c, b in zip(self.head, self.best, strict=True)]
        return int(np.argmax(scores))

    def short_answer(
        self, answerer: SentenceAnswerer, rank_weight: float, span_weight: float
    ) -> str:
        i = self.top(rank_weight)
        reading = self.readings[i]
        bonus: SpanBonus = lambda s, e: span_weight * reading.span_score(s, e)  # noqa: E731
        e = self.example
        return answerer.short_answer(e.question.question, e.terms, self.head[i].sentence, bonus)


def choose(reads: list[Read], answerer: SentenceAnswerer) -> tuple[ReaderCalibration, float]:
    """The combination weights and threshold that do best on `reads` (see the module doc)."""
    answerable = [r for r in reads if not r.example.question.is_impossible and r.head]
    rank_weight = max(
        (0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
        key=lambda w: sum(r.example.labels[r.top(w)] for r in answerable),
    )
    span_weight = max(
        (0.0, 0.1, 0.3, 1.0, 3.0),
        key=lambda w: sum(
            best_f1(r.short_answer(answerer, rank_weight, w), r.example.question.answers)
            for r in answerable
        ),
    )
    usable = [r for r in reads if r.head]
    rows = np.asarray([[r.base_logit, r.best[r.top(rank_weight)]] for r in usable])
    labels = [
        not r.example.question.is_impossible and r.example.labels[r.top(rank_weight)]
        for r in usable
    ]
    model = LogisticRegression(C=1.0, max_iter=1000).fit(rows, labels)
    calibration = ReaderCalibration(
        READER_DEPTH,
        rank_weight,
        span_weight,
        round(float(model.coef_[0][0]), 5),
        round(float(model.coef_[0][1]), 5),
        round(float(model.intercept_[0]), 5),
    )
    confidence = model.predict_proba(rows)[:, 1]
    impossible = [r.example.question.is_impossible for r in usable]
    best = (0.0, 0.5)
    for threshold in np.arange(0.05, 0.96, 0.005):
        precision, recall = precision_recall([bool(c < threshold) for c in confidence], impossible)
        if min(precision, recall) > best[0]:
            best = (min(precision, recall), round(float(threshold), 3))
    return calibration, best[1]


def report(
    name: str,
    reads: list[Read],
    answerer: SentenceAnswerer,
    calibration: ReaderCalibration,
    threshold: float,
) -> None:
    """Citation accuracy, answer F1 (abstaining scores 0) and abstain P/R, with and without
    the reader, at the chosen weights."""
    usable = [r for r in reads if r.head]
    for label, with_reader in (("ranker alone", False), ("with reader", True)):
        right, f1, abstained = [], [], []
        for r in usable:
            question = r.example.question
            if with_reader:
                # What SentenceAnswerer.answer does with the reader, on the cached readings.
                ranked, confidence, bonus = combine_reading(
                    r.head, r.readings, calibration, r.base_logit
                )
                cutoff = threshold
            else:
                ranked, bonus = r.head, None
                confidence, cutoff = logistic(r.base_logit), answerer.min_confidence
            short = answerer.short_answer(
                question.question, r.example.terms, ranked[0].sentence, bonus
            )
            abstain = confidence < cutoff
            abstained.append(abstain)
            if not question.is_impossible:
                right.append(contains_answer(ranked[0].sentence.text, question.answers))
                f1.append(0.0 if abstain else best_f1(short, question.answers))
        precision, recall = precision_recall(
            abstained, [r.example.question.is_impossible for r in usable]
        )
        print(
            f"{name} {label}: citation_accuracy_at_1 {np.mean(right):.4f} "
            f"answer_f1 {np.mean(f1):.4f} abstain P {precision:.4f} R {recall:.4f}"
        )


def read_all(
    examples: list[Example], reader: SpanReader, answerer: SentenceAnswerer, desc: str
) -> list[Read]:
    return [Read(e, reader, answerer) for e in tqdm(examples, desc=desc)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache", type=Path, help="pickle of the collected features (reused)")
    parser.add_argument("--write", action="store_true", help="write qa/models/reader.*")
    args = parser.parse_args()
    # The ranker without the reader, at its own threshold (the "ranker alone" figures).
    answerer = SentenceAnswerer(0.375, None, missing_type_penalty=0.5)
    examples = ranked_examples(load_examples(args.dataset, args.cache), answerer)
    train = [e for e in examples if e.train]
    held_out = [e for e in examples if not e.train]
    calibrate = [e for e in train if article(e) == CALIBRATION_TITLE]
    started = time.perf_counter()
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "qa-fit-reader"
    placeholder = ReaderCalibration(READER_DEPTH, 0.0, 0.0, 1.0, 0.0, 0.0)

    model, _ = fine_tune(training_pairs([e for e in train if e not in calibrate]))
    save_weights(model, folder / "calibration.safetensors")
    reader = SpanReader(BASE_MODEL, folder / "calibration.safetensors", calibration=placeholder)
    calibration, threshold = choose(read_all(calibrate, reader, answerer, "calibrate"), answerer)
    print(f"calibration on {CALIBRATION_TITLE}: {calibration}, threshold {threshold}")

    model, _ = fine_tune(training_pairs(train))
    weights = BUNDLED_WEIGHTS if args.write else folder / "reader.safetensors"
    save_weights(model, weights)
    calibration.write(weights.with_suffix(".json"))
    reader = SpanReader(BASE_MODEL, weights)
    report(
        "held-out",
        read_all(held_out, reader, answerer, "held-out"),
        answerer,
        calibration,
        threshold,
    )
    print(f"{time.perf_counter() - started:.0f} s; wrote {weights}")
    print(f"set answer.min_confidence to {threshold:.3f}")


if __name__ == "__main__":
    main()
