"""The lineup bench's pure parts: the exact bound and the lineups it draws."""

from __future__ import annotations

import random

from encoders.dataset import ProductRecord
from tooling.bench.lineups import binomial_lower, lineup_for


def test_the_exact_lower_bound_of_a_claimed_precision() -> None:
    assert binomial_lower(0, 10) == 0.0 and binomial_lower(5, 0) == 0.0
    assert abs(binomial_lower(36, 37) - 0.8799) < 2e-3  # one-sided 95 %: 0.05 ** (1/37) for k = n - 1 is close
    assert abs(binomial_lower(10, 10) - 0.05 ** (1 / 10)) < 1e-6
    assert binomial_lower(97, 100) < 0.97 < binomial_lower(999, 1000) + 0.03


def test_a_lineup_holds_its_product_or_not_and_look_alikes_first_when_asked() -> None:
    products = [ProductRecord(f"p{i}", f"t{i}", "", "c", "b", {}, [], group="g" if i < 3 else f"g{i}") for i in range(20)]
    rng = random.Random(0)
    assert lineup_for("p0", products, 10, "random", False, rng, set())[0] == "p0"
    assert len(lineup_for("p0", products, 10, "random", False, rng, set())) == 10
    assert "p0" not in lineup_for("p0", products, 10, "random", True, rng, set())
    assert lineup_for("p0", products, 5, "look-alikes", False, rng, set())[:3] in (["p0", "p1", "p2"], ["p0", "p2", "p1"])
    assert not {"p1", "p2"} & set(lineup_for("p0", products, 10, "random", True, rng, {"p0", "p1", "p2"}))
