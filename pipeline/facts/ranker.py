"""The learned choice among a figure's candidates: a pairwise ranker (scikit-learn logistic regression).

A figure's candidates compete with each other, so training compares them within a figure: every
candidate with the gold value against every other candidate of the same figure, as the difference of
their feature vectors (both orders, no intercept). A candidate's score is then its weighted features;
each distinct value keeps its best candidate, and the softmax over the values' scores is the probability
that the chosen value is right (`score`). Comparing within a figure matters: a pointwise classifier let
features that are common among right answers everywhere (a year the article names often, the title's
year) outweigh the one cue that decides this figure (the table column above it). The weights are stored
as JSON (feature → weight), never pickled, so a model folder cannot run code when it is loaded.
"""

import math
from collections.abc import Sequence
from itertools import repeat
from operator import mul

from pipeline.errors import ModelError
from pipeline.facts.candidates import Candidate

MIN_WEIGHT = 1e-6


class CandidateRanker:
    def __init__(self, weights: dict[str, float]):
        self.weights = weights

    @classmethod
    def train(cls, groups: Sequence[tuple[list[Candidate], object]], c: float = 1.0, seed: int = 13) -> "CandidateRanker":
        """Fit on (candidates, gold value) groups; groups without both a right and a wrong candidate teach nothing."""
        import numpy as np
        import scipy.sparse as sparse
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = DictVectorizer()
        vectorizer.fit([candidate.features for candidates, _ in groups for candidate in candidates])
        differences = []
        for candidates, gold in groups:
            right = [candidate.features for candidate in candidates if candidate.value == gold]
            wrong = [candidate.features for candidate in candidates if candidate.value != gold]
            if right and wrong:
                pairs = vectorizer.transform(right)[np.repeat(np.arange(len(right)), len(wrong))]
                differences.append(pairs - vectorizer.transform(wrong)[np.tile(np.arange(len(wrong)), len(right))])
        if not differences:
            raise ModelError("the linker needs figures with right and wrong candidates to train; give more gold facts")
        better = sparse.vstack(differences)
        matrix = sparse.vstack([better, -better])
        labels = np.concatenate([np.ones(better.shape[0]), np.zeros(better.shape[0])])
        model = LogisticRegression(C=c, max_iter=3000, fit_intercept=False, random_state=seed)
        model.fit(matrix, labels)
        weights = {name: float(weight) for name, weight in zip(vectorizer.get_feature_names_out(), model.coef_[0])
                   if abs(weight) >= MIN_WEIGHT}
        return cls(weights)

    def score(self, candidate: Candidate) -> float:
        # map over the dict in C: a figure has tens of candidates of a hundred features each (same sum, same order)
        features = candidate.features
        return sum(map(mul, map(self.weights.get, features, repeat(0.0)), features.values()))

    def choose(self, candidates: Sequence[Candidate]) -> tuple[Candidate, float]:
        """The best candidate and the probability of its value among the candidates' values (softmax)."""
        best: dict[object, tuple[float, Candidate]] = {}
        for candidate in candidates:
            z = self.score(candidate)
            if candidate.value not in best or z > best[candidate.value][0]:
                best[candidate.value] = (z, candidate)
        top, chosen = max(best.values(), key=lambda pair: pair[0])
        return chosen, 1.0 / sum(math.exp(z - top) for z, _ in best.values())

    def to_dict(self) -> dict:
        return {"weights": dict(sorted(self.weights.items()))}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "CandidateRanker":
        """Raises ModelError when `data` is not a ranker written by `to_dict`."""
        weights = data.get("weights") if isinstance(data, dict) else None
        if not isinstance(weights, dict) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and math.isfinite(v) for k, v in weights.items()):
            raise ModelError(f"{where}: not a linker ranker (feature weights); rebuild it with `vipie train`")
        return cls({k: float(v) for k, v in weights.items()})
