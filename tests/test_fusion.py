"""Fusion: reciprocal rank fusion and weighted min-max fusion, values written as arithmetic."""

from __future__ import annotations

import pytest

from aseancyberdocs.fusion import min_max, rrf, weighted


def test_rrf_sums_reciprocal_ranks():
    fused = rrf({"dense": [1, 2, 3], "bm25": [3, 1]})
    assert fused == pytest.approx(
        {
            1: 1 / (60 + 1) + 1 / (60 + 2),
            2: 1 / (60 + 2),
            3: 1 / (60 + 3) + 1 / (60 + 1),
        }
    )


def test_rrf_constant_can_change():
    assert rrf({"a": [5]}, k=0) == {5: 1 / (0 + 1)}


def test_min_max_rescales_to_unit_range():
    assert min_max({1: 2.0, 2: 4.0, 3: 3.0}) == pytest.approx({1: 0.0, 2: 1.0, 3: (3 - 2) / (4 - 2)})
    assert min_max({1: 7.0, 2: 7.0}) == {1: 1.0, 2: 1.0}
    assert min_max({}) == {}


def test_weighted_fusion_of_normalised_scores():
    fused = weighted(
        {"dense": {1: 0.9, 2: 0.7, 3: 0.5}, "bm25": {3: 20.0, 4: 10.0, 2: 15.0}},
        {"dense": 0.6, "bm25": 0.4},
    )
    assert fused == pytest.approx(
        {
            1: 0.6 * 1.0,
            2: 0.6 * (0.7 - 0.5) / (0.9 - 0.5) + 0.4 * (15 - 10) / (20 - 10),
            3: 0.6 * 0.0 + 0.4 * 1.0,
            4: 0.4 * 0.0,
        }
    )
