"""Statistics of how fast runs learn (Chapter 3): intervals over seeds, the claim's tests with
censored runs, learning curves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from langlab import learning_speed
from langlab.errors import ParameterError

HISTORY = pd.DataFrame({"phase": ["pretrain"] + ["train"] * 4, "step": [3, 0, 10, 20, 30],
                        "epoch": [1.0, 0.0, 1.0, 2.0, 3.0], "seconds": [0.1, 0.0, 1.0, 2.0, 3.0],
                        "loss": [np.nan] * 5, "val_loss": [0.001, 0.5, 0.2, 0.1, 0.05]})


def results_table(steps: dict[str, list[int]], budget: int = 100) -> pd.DataFrame:
    rows = [{"condition": c, "seed": i, "steps_to_threshold": min(v, budget), "censored": v >= budget}
            for c, values in steps.items() for i, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_summarise_counts_censored_runs_and_gives_intervals():
    table = learning_speed.summarise(results_table({"none": [50, 60, 70, 100, 120], "it": [20, 30, 40, 30, 30]}))
    assert list(table["condition"]) == ["none", "it"]  # the registry's order
    none = table.iloc[0]
    assert none["n_runs"] == 5 and none["n_censored"] == 2 and none["mean"] == 76
    assert none["ci_low"] < 76 < none["ci_high"]
    assert table.iloc[1]["n_censored"] == 0


def test_compare_tests_the_claim():
    results = results_table({"none": [80, 90, 85, 95, 100], "it": [20, 30, 25, 35, 22], "ja": [21, 31, 24, 36, 23]})
    table = learning_speed.compare(results).set_index(["a", "b"])
    assert list(table.index) == list(learning_speed.CLAIM_PAIRS)
    assert table.loc[("it", "ja"), "p_mannwhitney"] > 0.5
    assert table.loc[("it", "none"), "p_mannwhitney"] < 0.05
    assert table.loc[("it", "none"), "p_logrank"] < 0.05
    assert table.loc[("ja", "none"), "censored_b"] == 1


def test_compare_gives_exact_p_values_with_tied_steps():
    # Complete separation of 5 against 5 runs, with ties inside each side: exact p = 2 / C(10, 5).
    results = results_table({"it": [20, 20, 30, 30, 40], "none": [80, 80, 90, 90, 100]})
    out = learning_speed.compare(results, pairs=[("it", "none")])
    assert out["p_mannwhitney"].iloc[0] == pytest.approx(2 / 252)


def test_compare_with_identical_values_gives_nan():
    out = learning_speed.compare(results_table({"it": [50, 50], "ja": [50, 50]}), pairs=[("it", "ja")])
    assert np.isnan(out["p_mannwhitney"].iloc[0])


@pytest.mark.parametrize("bad, match", [(pd.DataFrame({"x": [1]}), "lacks column"), ([1, 2], "DataFrame")])
def test_statistics_refuse_other_tables(bad, match):
    with pytest.raises(ParameterError, match=match):
        learning_speed.summarise(bad)


def test_learning_curves_band_over_seeds():
    h = pd.concat([HISTORY.assign(condition="none", seed=s, val_loss=HISTORY["val_loss"] + 0.01 * s)
                   for s in range(3)])
    curves = learning_speed.learning_curves(h)
    assert list(curves["step"]) == [0, 10, 20, 30] and (curves["n_runs"] == 3).all()
    np.testing.assert_allclose(curves["mean"], [0.51, 0.21, 0.11, 0.06])
    assert (curves["ci_low"] < curves["mean"]).all()


def _design_table():
    rows = []
    for seed in range(6):
        base = 1.0 + 0.1 * seed
        rows.append({"arm": "none", "condition": "none", "pretrain_epochs": 0, "pretrain_steps": 0,
                     "reset_optimizer": False, "seed": seed, "val_loss_auc": base})
        for arm, epochs, factor in (("it x1", 1, 0.9), ("it x8", 8, 0.8 + 0.01 * (seed % 2))):
            rows.append({"arm": arm, "condition": "it", "pretrain_epochs": epochs, "pretrain_steps": 4 * epochs,
                         "reset_optimizer": False, "seed": seed, "val_loss_auc": base * factor})
    return pd.DataFrame(rows)


def test_arm_effects_are_paired_relative_changes():
    effects = learning_speed.arm_effects(_design_table()).set_index("arm")
    assert list(effects.index) == ["it x1", "it x8"]
    exact = effects.loc["it x1"]  # the same 10 % in every seed: no spread at all
    assert exact["relative"] == pytest.approx(-0.1) and exact["low"] == pytest.approx(-0.1)
    assert exact["p"] == pytest.approx(2 / 2 ** 6)
    noisy = effects.loc["it x8"]
    assert noisy["low"] < noisy["relative"] < noisy["high"] < 0 and noisy["mde"] > 0
    assert noisy["relative"] == pytest.approx(np.exp(np.mean(np.log([0.8, 0.81] * 3))) - 1)
    assert noisy["pretrain_steps"] == 32


def test_arm_effects_refuse_bad_tables():
    table = _design_table()
    with pytest.raises(ParameterError, match="columns"):
        learning_speed.arm_effects(table.drop(columns="arm"))
    with pytest.raises(ParameterError, match="positive"):
        learning_speed.arm_effects(table.assign(val_loss_auc=0.0))
    with pytest.raises(ParameterError, match="reference"):
        learning_speed.arm_effects(table, reference="ja x1")
