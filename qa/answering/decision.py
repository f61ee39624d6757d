"""The one decision to answer or abstain: a logistic model, fitted with its threshold by
training/fit_abstention.py (qa.models.reader.AbstentionModel), over the reader's logit and the
grounding evidence of the cited sentence, overruled by evidence that settles it alone
(`ruled_out`); and the reason an abstention gives.
"""

from __future__ import annotations

from collections.abc import Mapping

from qa.models.reader import AbstentionModel

# The answer decision's evidence, in the order the fitted weights name them.
DECISION_FEATURES = (
    "reader",
    "local_missing_idf",
    "article_missing_max_idf",
    "year_unmatched",
    "type_unfit",
)
# Evidence that pulls the decision's logit down by more than this names the abstention's reason.
REASON_MARGIN = 1.0


def ruled_out(features: Mapping[str, float]) -> bool:
    """Evidence that settles the decision alone: a name the question gives that the cited
    article never writes ("ohio" asked, South Carolina's primary cited) is another story, however
    well the sentence reads."""
    return features.get("name_unmatched", 0.0) > 0.0


def decision_logit(features: Mapping[str, float], model: AbstentionModel) -> float:
    return model.bias + sum(model.weights.get(n, 0.0) * features[n] for n in DECISION_FEATURES)


def abstain_reason(features: Mapping[str, float], model: AbstentionModel | None) -> str:
    """What most pulled the decision towards abstaining, beyond the reader's own doubt."""
    if ruled_out(features):
        return "not_in_cited_article"
    if model is None:
        return "low_confidence"
    pulls = {
        "not_in_cited_article": sum(
            model.weights.get(n, 0.0) * features[n]
            for n in (
                "local_missing_idf",
                "article_missing_max_idf",
                "year_unmatched",
            )
        ),
        "no_fitting_answer": model.weights.get("type_unfit", 0.0) * features["type_unfit"],
    }
    reason, pull = min(pulls.items(), key=lambda item: item[1])
    return reason if pull < -REASON_MARGIN else "low_confidence"
