from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from qa.models.reader import BASE_MODEL, SpanReader, encoder_layers, keep_layers, load_reader
from training.reader_pairs import TrainingPair, encode_pairs, squad_pairs
from training.reader_training import (
    Trainer,
    TrainingSettings,
    batch_order,
    load_trainable,
    save_weights,
)

PARAGRAPH = (
    "The bridge opened in 1932. It was built by Dorman Long. "
    "Its arch spans 503 metres. The bridge carries eight lanes."
)
OTHER = "Tolls were introduced in 1932 on the bridge. Dorman Long also built other bridges."


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for part in text.split(". "):
        end = start + len(part) + (0 if part.endswith(".") else 1)
        spans.append((start, end))
        start = end + 1
    return spans


def squad(question: str, answer: str) -> dict[str, Any]:
    return {
        "data": [
            {
                "title": "Bridge",
                "paragraphs": [
                    {
                        "context": PARAGRAPH,
                        "qas": [
                            {
                                "id": "q1",
                                "question": question,
                                "answers": [
                                    {"text": answer, "answer_start": PARAGRAPH.find(answer)}
                                ],
                            }
                        ],
                    },
                    {"context": OTHER, "qas": []},
                ],
            }
        ]
    }


def test_pairs_hold_the_answer_and_hard_negatives_never_do() -> None:
    document = squad("who built the bridge?", "Dorman Long")
    spans = [sentence_spans(PARAGRAPH), sentence_spans(OTHER)]
    pairs = squad_pairs(document, spans, negatives=2, cross_paragraph=True)
    positive, *negatives = pairs
    assert positive.sentence == "It was built by Dorman Long."
    assert positive.answer is not None
    assert positive.sentence[positive.answer[0] : positive.answer[1]] == "Dorman Long"
    assert len(negatives) == 2
    assert all(p.answer is None and "Dorman Long" not in p.sentence for p in negatives)
    # The hardest same-paragraph negative shares "bridge"; the other comes from paragraph 2.
    assert negatives[0].sentence in PARAGRAPH and "bridge" in negatives[0].sentence
    assert negatives[1].sentence in OTHER


def test_an_unanswerable_question_reads_its_misleading_sentence_first_then_the_hardest() -> None:
    document = squad("who built the bridge?", "Dorman Long")
    question = document["data"][0]["paragraphs"][0]["qas"][0]
    question.update(
        question="who painted the arch that spans the river?",
        answers=[],
        is_impossible=True,
        plausible_answers=[{"text": "Dorman Long", "answer_start": PARAGRAPH.find("Dorman")}],
    )
    spans = [sentence_spans(PARAGRAPH), sentence_spans(OTHER)]
    assert squad_pairs(document, spans) == []  # skipped unless asked for
    pairs = squad_pairs(document, spans, unanswerable=2)
    assert [p.answer for p in pairs] == [None, None]
    assert pairs[0].sentence == "It was built by Dorman Long."
    assert pairs[1].sentence == "Its arch spans 503 metres."


def test_an_answer_across_a_sentence_boundary_is_skipped() -> None:
    document = squad("what happened in 1932?", "1932. It was built")
    assert squad_pairs(document, [sentence_spans(PARAGRAPH), sentence_spans(OTHER)]) == []


def test_batches_cover_every_pair_once_an_epoch_and_depend_only_on_the_seed(
    trainable: tuple[Any, Any],
) -> None:
    _, tokenizer = trainable
    pairs = [TrainingPair(f"question {i}?", "word " * (i % 7 + 1), None) for i in range(50)]
    encoded = encode_pairs(tokenizer, pairs, 64)
    order = batch_order(encoded, 8, 2, seed=3)
    assert sorted(i for batch in order[: len(order) // 2] for i in batch) == list(range(50))
    assert order == batch_order(encoded, 8, 2, seed=3)
    assert order != batch_order(encoded, 8, 2, seed=4)


@pytest.fixture(scope="module")
def trainable() -> tuple[Any, Any]:
    """The base encoder with a fresh head, loaded once; tests train deep copies of it."""
    return load_trainable(BASE_MODEL)


PLANTED = [
    TrainingPair("what is the code word?", f"The code word is {word} today.", (17, 17 + len(word)))
    for word in ("zebra", "lantern", "harbour", "quartz")
] + [
    TrainingPair("what is the code word?", sentence, None)
    for sentence in ("The weather was mild.", "Nobody came to the meeting.")
]
TINY = TrainingSettings(epochs=12, batch_size=3, learning_rate=3e-4, seed=1, checkpoint_every=4)


def test_a_tiny_run_lowers_the_loss_and_finds_a_planted_span(
    trainable: tuple[Any, Any], tmp_path: Path
) -> None:
    # Read back as it will be served: through its exported graph.
    model, tokenizer = copy.deepcopy(trainable[0]), trainable[1]
    encoded = encode_pairs(tokenizer, PLANTED, 64)
    losses = Trainer(model, encoded, TINY, None, tokenizer.pad_token_id).train(progress=False)
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 / 2
    save_weights(model, tmp_path / "tiny.safetensors")
    reader = SpanReader(
        BASE_MODEL, tmp_path / "tiny.safetensors", runtime="onnx", cache_dir=tmp_path
    )
    planted, empty = reader.read("what is the code word?", [PLANTED[1].sentence, "It rained."])
    score, start, end = planted.best_span()
    assert PLANTED[1].sentence[start:end] == "lantern"
    assert score > empty.best_span()[0]


def test_a_killed_run_resumes_to_the_same_weights(
    trainable: tuple[Any, Any], tmp_path: Path
) -> None:
    tokenizer = trainable[1]
    encoded = encode_pairs(tokenizer, PLANTED, 64)
    settings = TrainingSettings(epochs=2, batch_size=3, seed=1, checkpoint_every=2)
    whole = copy.deepcopy(trainable[0])
    Trainer(whole, encoded, settings, tmp_path / "a").train(progress=False)
    first = copy.deepcopy(trainable[0])
    Trainer(first, encoded, settings, tmp_path / "b").train(progress=False, stop_after=2)
    resumed = copy.deepcopy(trainable[0])
    taken = Trainer(resumed, encoded, settings, tmp_path / "b").train(progress=False)
    assert len(taken) == len(batch_order(encoded, 3, 2, 1)) - 2
    for name, tensor in whole.state_dict().items():
        assert torch.allclose(tensor, resumed.state_dict()[name], atol=1e-6), name


def test_a_checkpoint_of_another_run_is_refused(trainable: tuple[Any, Any], tmp_path: Path) -> None:
    tokenizer = trainable[1]
    encoded = encode_pairs(tokenizer, PLANTED, 64)
    settings = TrainingSettings(epochs=1, batch_size=3, seed=1, checkpoint_every=1)
    Trainer(copy.deepcopy(trainable[0]), encoded, settings, tmp_path).train(
        progress=False, stop_after=1
    )
    other = TrainingSettings(epochs=1, batch_size=3, seed=2, checkpoint_every=1)
    with pytest.raises(ValueError, match="another training run"):
        Trainer(copy.deepcopy(trainable[0]), encoded, other, tmp_path).train(progress=False)


def test_a_teacher_adds_only_its_distance_to_the_labels_loss(
    trainable: tuple[Any, Any],
) -> None:
    tokenizer = trainable[1]
    encoded = encode_pairs(tokenizer, PLANTED, 64)
    plain = TrainingSettings(epochs=1, batch_size=3, seed=1)
    taught = dataclasses.replace(plain, teacher="a copy of the student")
    with pytest.raises(ValueError, match="teacher"):
        Trainer(copy.deepcopy(trainable[0]), encoded, taught)
    alone = Trainer(copy.deepcopy(trainable[0]), encoded, plain).train(progress=False)
    # A teacher that reads as the student does is near distance 0 on the first step (dropout,
    # on in training, is the difference; padding adds nothing); a different one is not.
    twin = Trainer(
        copy.deepcopy(trainable[0]), encoded, taught, teacher=copy.deepcopy(trainable[0])
    ).train(progress=False, stop_after=1)
    assert alone[0] <= twin[0] < alone[0] + 0.02
    other_teacher = copy.deepcopy(trainable[0])
    with torch.no_grad():
        other_teacher.qa_outputs.weight.normal_()
    farther = Trainer(copy.deepcopy(trainable[0]), encoded, taught, teacher=other_teacher).train(
        progress=False, stop_after=1
    )
    assert farther[0] > alone[0] + 0.1


def test_a_student_keeps_the_chosen_layers_and_loads_back_with_as_many(
    trainable: tuple[Any, Any], tmp_path: Path
) -> None:
    """A distilled reader is the start's encoder cut to some layers: those layers' weights,
    renumbered, and a weights file that load_reader reads back as that many layers."""
    full = trainable[0]
    student = copy.deepcopy(full)
    keep_layers(student, [0, 2])
    assert encoder_layers(student) == 2 == student.config.num_hidden_layers
    kept = student.state_dict()["bert.encoder.layer.1.output.dense.weight"]
    assert torch.equal(kept, full.state_dict()["bert.encoder.layer.2.output.dense.weight"])
    with pytest.raises(ValueError, match="not among"):
        keep_layers(copy.deepcopy(full), [0, 9])
    save_weights(student, tmp_path / "student.safetensors")
    loaded, tokenizer = load_reader(BASE_MODEL, tmp_path / "student.safetensors")
    assert encoder_layers(loaded) == 2
    inputs = tokenizer("what is the code word?", "The code word is zebra.", return_tensors="pt")
    student.eval()
    with torch.no_grad():
        theirs, mine = student(**inputs).start_logits, loaded(**inputs).start_logits
    # The file holds float16: the loaded student reads as the saved one to that rounding.
    assert torch.allclose(theirs, mine, atol=0.05)
    assert not torch.allclose(full.eval()(**inputs).start_logits, mine, atol=0.05)
