"""The learned choice among a figure's candidates: logistic regression (scikit-learn) over their features.

Training sees one binary example per candidate (is its value the gold value?). At prediction every
candidate gets the regression's probability, each distinct value keeps its best candidate, and the
chosen value's probability is renormalised over the values, so `score` reads as the probability that
the choice is right. The weights are stored as JSON (feature → weight), never pickled, so a model
folder cannot run code when it is loaded.
"""

import math
from collections.abc import Sequence

from pipeline.errors import ModelError
from pipeline.facts.candidates import Candidate

MIN_WEIGHT = 1e-6


class CandidateRanker:
    def __init__(self, weights: dict[str, float], intercept: float):
        self.weights = weights
        self.intercept = intercept

    @classmethod
    def train(cls, groups: Sequence[tuple[list[Candidate], object]], c: float = 1.0, seed: int = 13) -> "CandidateRanker":
        """Fit on (candidates, gold value) groups; a group whose gold value no candidate has still teaches its
        negatives."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        rows, labels = [], []
        for candidates, gold in groups:
            for candidate in candidates:
                rows.append(candidate.features)
                labels.append(int(candidate.value == gold))
        if len(set(labels)) < 2:
            raise ModelError("the linker needs positive and negative candidates to train; give more gold facts")
        vectorizer = DictVectorizer()
        matrix = vectorizer.fit_transform(rows)
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        model.fit(matrix, labels)
        weights = {name: float(weight) for name, weight in zip(vectorizer.get_feature_names_out(), model.coef_[0])
                   if abs(weight) >= MIN_WEIGHT}
        return cls(weights, float(model.intercept_[0]))

    def probability(self, candidate: Candidate) -> float:
        z = self.intercept + sum(self.weights.get(name, 0.0) * value for name, value in candidate.features.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def choose(self, candidates: Sequence[Candidate]) -> tuple[Candidate, float]:
        """The best candidate and the probability of its value among the candidates' values."""
        best: dict[object, tuple[float, Candidate]] = {}
        for candidate in candidates:
            p = self.probability(candidate)
            if candidate.value not in best or p > best[candidate.value][0]:
                best[candidate.value] = (p, candidate)
        total = sum(p for p, _ in best.values())
        p, chosen = max(best.values(), key=lambda pair: pair[0])
        return chosen, (p / total if total else 0.0)

    def to_dict(self) -> dict:
        return {"intercept": self.intercept, "weights": dict(sorted(self.weights.items()))}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "CandidateRanker":
        """Raises ModelError when `data` is not a ranker written by `to_dict`."""
        weights, intercept = data.get("weights") if isinstance(data, dict) else None, \
            data.get("intercept") if isinstance(data, dict) else None
        if not isinstance(weights, dict) or not isinstance(intercept, (int, float)) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and math.isfinite(v) for k, v in weights.items()):
            raise ModelError(f"{where}: not a linker ranker (weights and intercept); rebuild it with `vipie train`")
        return cls({k: float(v) for k, v in weights.items()}, float(intercept))
