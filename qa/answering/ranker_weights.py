"""Fitted coefficients of the answer models (written by training/fit_answer_model.py; do not
edit by hand: re-run the script). Weights apply to the raw features named in
qa/answering/ranker.py."""

from __future__ import annotations

SENTENCE_WEIGHTS: dict[str, float] = {
    "cosine": 4.41954,
    "cosine_margin": 4.17077,
    "chunk_score": 4.1847,
    "chunk_reciprocal_rank": 0.31376,
    "idf_overlap": 5.8161,
    "idf_overlap_margin": 1.90355,
    "overlap": -5.4359,
    "bigram_overlap": 1.53129,
    "context_idf_overlap": 4.02792,
    "title_idf_overlap": 9.5443,
    "type_match": 0.4862,
    "type_missing": -0.42037,
    "type_near_question": 0.56184,
    "time_match": 0.61021,
    "time_missing": -0.34768,
    "number_match": 1.97111,
    "number_missing": -0.53227,
    "person_match": 0.03326,
    "person_missing": -0.07034,
    "place_match": 0.5261,
    "place_missing": -0.4825,
    "log_length": 2.42216,
}
SENTENCE_BIAS = 0.0

ABSTAIN_WEIGHTS: dict[str, float] = {
    "top_score": 0.07051,
    "score_margin": 0.1201,
    "top_cosine": 2.76515,
    "top_idf_overlap": 3.48484,
    "context_missing_idf": -1.95898,
    "article_missing_idf": 5.07152,
    "article_max_missing_idf": -0.01682,
    "names_missing": -0.33715,
    "negation_mismatch": -0.61371,
    "type_missing": -0.26824,
    "type_near_question": 0.46159,
    "has_type": -0.53019,
    "sentence_missing_words": 0.18076,
}
ABSTAIN_BIAS = -6.69349
# The confidence below which the ranker alone (answer.reader: false) abstains.
MIN_CONFIDENCE = 0.375
