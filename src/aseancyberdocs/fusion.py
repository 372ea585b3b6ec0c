"""Fusing ranked lists: reciprocal rank fusion and a weighted sum of min-max normalised scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def rrf(rankings: Mapping[str, Sequence[int]], *, k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack et al. 2009): each item scores sum of 1 / (k + rank).

    Args:
        rankings: name -> item ids, best first (rank 1 is the first).
        k: the RRF constant.

    Returns:
        item -> fused score (items of any list).

    Example:
        >>> rrf({"dense": [7, 3], "bm25": [3]})[3] == 1 / (60 + 2) + 1 / (60 + 1)
        True
    """
    fused: dict[int, float] = {}
    for items in rankings.values():
        for rank, item in enumerate(items, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def min_max(scores: Mapping[int, float]) -> dict[int, float]:
    """Scores rescaled to [0, 1] (all 1.0 when they are equal)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {item: 1.0 for item in scores}
    return {item: (score - low) / (high - low) for item, score in scores.items()}


def weighted(scores: Mapping[str, Mapping[int, float]], weights: Mapping[str, float]) -> dict[int, float]:
    """Weighted sum of min-max normalised scores; an item missing from a list gets 0 from it.

    Example:
        >>> weighted({"dense": {1: 0.9, 2: 0.5}, "bm25": {2: 12.0, 3: 4.0}}, {"dense": 0.5, "bm25": 0.5})
        {1: 0.5, 2: 0.5, 3: 0.0}
    """
    fused: dict[int, float] = {}
    for name, values in scores.items():
        weight = weights[name]
        for item, value in min_max(values).items():
            fused[item] = fused.get(item, 0.0) + weight * value
    for values in scores.values():
        for item in values:
            fused.setdefault(item, 0.0)
    return fused
