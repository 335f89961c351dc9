"""Probes, splits, permutation tests and summaries of langlab.probing (Chapter 4).

The generic procedure is tested on synthetic representations whose answer is known: a
"language" direction plus speaker offsets, pure noise, and speaker identity alone.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from langlab import probing, representations
from langlab.errors import DataError, ParameterError
from probe_data import multilingual, synthetic

FAST = probing.ProbeConfig(n_splits=4, n_permutations=0)


@pytest.mark.parametrize("field, value, match", [
    ("n_splits", 1, "n_splits"),
    ("n_permutations", -1, "n_permutations"),
    ("permutation_tasks", ("binary", "4way"), "permutation_tasks"),
    ("C", 0.0, "C must be"),
    ("solver", "lbfgs", "solver"),
    ("test_size", 1.0, "test_size"),
    ("n_frames", 0, "n_frames"),
    ("tsne_perplexity", -1.0, "tsne_perplexity"),
    ("seed", -3, "seed"),
])
def test_config_rejects_bad_values(field, value, match):
    with pytest.raises(ParameterError, match=match):
        probing.ProbeConfig(**{field: value})


def test_presets_are_probe_configs():
    assert set(probing.PRESETS) == {"smoke", "book", "paper"}
    assert all(isinstance(c, probing.ProbeConfig) for c in probing.PRESETS.values())
    assert probing.PRESETS["smoke"].n_permutations < probing.PRESETS["paper"].n_permutations


def test_task_labels():
    y, names = probing.task_labels(["es", "it", "ja", "es"], task="binary")
    assert y.tolist() == [1, 0, 0, 1] and names == ("not es", "es")
    y, names = probing.task_labels(["ja", "es", "it"], task="3way")
    assert y.tolist() == [2, 0, 1] and names == ("es", "it", "ja")
    with pytest.raises(DataError, match="'es'"):
        probing.task_labels(["it", "ja"], task="binary")
    with pytest.raises(ParameterError, match="task must be"):
        probing.task_labels(["es"], task="spanish")


@pytest.mark.parametrize("n_splits", [2, 3, 5])
def test_grouped_splits_keep_speakers_apart(n_splits):
    _, locales, groups = synthetic(n_speakers=6)
    y, _ = probing.task_labels(locales, task="3way")
    splits = probing.grouped_splits(y, groups, n_splits=n_splits, seed=1)
    assert len(splits) == n_splits
    tested = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tested), np.arange(len(y)))  # every clip tested once
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        assert set(y[test]) == {0, 1, 2}


def test_grouped_splits_use_fewer_folds_with_few_speakers():
    _, locales, groups = synthetic(n_speakers=3)
    y, _ = probing.task_labels(locales, task="3way")
    assert len(probing.grouped_splits(y, groups, n_splits=5, seed=0)) == 3
    _, locales, groups = synthetic(n_speakers=1)
    y, _ = probing.task_labels(locales, task="3way")
    with pytest.raises(DataError, match="at least 2 speakers per class"):
        probing.grouped_splits(y, groups, n_splits=5, seed=0)


def test_permutation_swaps_whole_speakers():
    _, locales, groups = synthetic(n_speakers=5)
    y, _ = probing.task_labels(locales, task="binary")
    rng = np.random.default_rng(0)
    perms = [probing.permute_labels(y, groups, rng=rng) for _ in range(20)]
    for p in perms:
        assert probing.labels_constant_within_groups(p, groups)
        assert p.sum() == y.sum()  # equal-sized speakers: class counts kept
    assert any(not np.array_equal(p, y) for p in perms)


def test_permutation_within_groups_when_labels_vary():
    y = np.array([0, 1, 0, 1, 1, 0, 0, 0])
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    p = probing.permute_labels(y, groups, rng=np.random.default_rng(3))
    for g in "ab":
        assert sorted(p[groups == g]) == sorted(y[groups == g])


def test_sklearn_groups_permutation_is_degenerate_here():
    """Why langlab permutes speakers: scikit-learn's ``groups`` shuffles within speakers, which
    changes nothing when each speaker has one language, so p is exactly 1 even for a perfect
    probe."""
    from sklearn.model_selection import GroupKFold, permutation_test_score

    X, locales, groups = synthetic(language=3.0, speaker=0.0)
    y, _ = probing.task_labels(locales, task="binary")
    score, null, p = permutation_test_score(
        probing.linear_probe(config=FAST), X, y, groups=groups, cv=GroupKFold(3),
        n_permutations=9, random_state=0)
    assert score > 0.9 and np.allclose(null, score) and p == 1.0
    ours = probing.probe(X, y, groups, config=FAST, n_permutations=9)
    assert ours["p_value"] == pytest.approx(0.1)


@pytest.mark.parametrize("task", probing.TASKS)
def test_control_labels_with_multilingual_speakers(task):
    _, locales, groups = multilingual(n_speakers=12)
    y, _ = probing.task_labels(locales, task=task)
    yc = probing.control_labels(y, groups, seed=0)
    assert probing.labels_constant_within_groups(yc, groups)
    per_speaker = pd.Series(yc).groupby(groups).first().value_counts().sort_index()
    expected = {"binary": [8, 4], "3way": [4, 4, 4]}[task]
    assert per_speaker.tolist() == expected


def test_probe_multilingual_speakers_uses_within_speaker_shuffle():
    cfg = probing.ProbeConfig(n_splits=4, n_permutations=19)
    X, locales, groups = multilingual(language=1.5)
    y, _ = probing.task_labels(locales, task="3way")
    assert not probing.labels_constant_within_groups(y, groups)
    found = probing.probe(X, y, groups, config=cfg)
    assert found["balanced_accuracy"] > 0.8 and found["p_value"] == pytest.approx(1 / 20)
    X, locales, groups = multilingual(language=0.0)
    null = probing.probe(X, y, groups, config=cfg)
    assert null["p_value"] > 0.05


def test_control_labels_one_per_speaker():
    _, locales, groups = synthetic(n_speakers=6)
    y, _ = probing.task_labels(locales, task="3way")
    yc = probing.control_labels(y, groups, seed=5)
    assert probing.labels_constant_within_groups(yc, groups)
    assert np.array_equal(np.bincount(yc), np.bincount(y))
    assert np.array_equal(yc, probing.control_labels(y, groups, seed=5))


def test_probe_finds_language_and_not_noise():
    X, locales, groups = synthetic(language=1.5, speaker=1.0)
    y, _ = probing.task_labels(locales, task="binary")
    cfg = probing.ProbeConfig(n_splits=4, n_permutations=19)
    found = probing.probe(X, y, groups, config=cfg)
    assert found["balanced_accuracy"] > 0.9
    assert found["p_value"] == pytest.approx(1 / 20)
    noise = np.random.default_rng(1).normal(size=X.shape)
    null = probing.probe(noise, y, groups, config=cfg)
    assert 0.3 < null["balanced_accuracy"] < 0.7
    assert null["p_value"] > 0.05
    assert found["majority"] == pytest.approx(2 / 3) and found["chance"] == 0.5
    assert found == probing.probe(X, y, groups, config=cfg)  # seeded: same numbers


def test_probe_equals_the_pipeline_and_sklearn_metrics():
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import cross_val_score

    X, locales, groups = synthetic(language=0.5)
    y, _ = probing.task_labels(locales, task="3way")
    result = probing.probe(X, y, groups, config=FAST, seed=3)
    splits = probing.grouped_splits(y, groups, n_splits=FAST.n_splits, seed=3)
    pipeline = probing.linear_probe(config=FAST, seed=3)
    for scoring, key in [("accuracy", "accuracy"), ("balanced_accuracy", "balanced_accuracy"),
                         ("roc_auc_ovr", "auc")]:
        # roc_auc_ovr needs probabilities; our AUC ranks decision values, per class: the same
        # ranks as scikit-learn's per-class AUC on the pipeline's decision_function (liblinear
        # run to a tight tolerance: its default one moves decision values enough to swap ranks)
        if key == "auc":
            from sklearn.metrics import roc_auc_score
            tight = probing.linear_probe(config=FAST, seed=3).set_params(linearsvc__tol=1e-12,
                                                                         linearsvc__max_iter=10**6)
            expected = np.mean([
                np.mean([roc_auc_score(y[test] == k, tight.fit(X[train], y[train])
                                       .decision_function(X[test])[:, k]) for k in range(3)])
                for train, test in splits])
        else:
            expected = cross_val_score(pipeline, X, y, cv=splits, scoring=scoring).mean()
        assert result[key] == pytest.approx(expected, abs=1e-9)
    assert pipeline[-1].class_weight == "balanced"
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    assert probing.balanced_accuracy(a, b) == pytest.approx(balanced_accuracy_score(a, b))


@pytest.mark.parametrize("class_weight", ["balanced", None])
@pytest.mark.parametrize("task", probing.TASKS)
def test_batched_null_is_linear_svc(task, class_weight):
    """The batched solver scores the real and the permuted labels as LinearSVC does, with and
    without class weights."""
    from sklearn.svm import LinearSVC

    X, locales, groups = multilingual(language=0.4, n_speakers=6)
    y, _ = probing.task_labels(locales, task=task)
    cfg = probing.ProbeConfig(n_splits=3, C=0.1)
    splits = probing.grouped_splits(y, groups, n_splits=3, seed=0)
    folds = probing._folds(X, splits, scale=True)
    seeds = list(range(12))
    observed, null = probing._batched_null(folds, y, groups, seeds, C=cfg.C, class_weight=class_weight)
    svc = LinearSVC(C=cfg.C, max_iter=cfg.max_iter, class_weight=class_weight)
    assert observed == pytest.approx(probing._cv_scores(svc, folds, y)[1])
    np.testing.assert_allclose(null, probing._null_scores(svc, folds, y, groups, seeds))


@pytest.mark.parametrize("task", probing.TASKS)
@pytest.mark.parametrize("split", ["grouped", "shared"])
def test_solvers_give_the_same_probe(task, split):
    X, locales, groups = multilingual(language=0.4, n_speakers=6)
    y, _ = probing.task_labels(locales, task=task)
    results = [probing.probe(X, y, groups, split=split, n_permutations=9, seed=2,
                             config=probing.ProbeConfig(n_splits=3, solver=solver))
               for solver in ("batched", "liblinear")]
    assert results[0] == pytest.approx(results[1], abs=1e-12, nan_ok=True)


def test_majority_probe():
    X, locales, groups = synthetic()
    for task, accuracy in [("binary", 2 / 3)]:
        y, _ = probing.task_labels(locales, task=task)
        result = probing.probe(X, y, groups, config=FAST, estimator="majority")
        assert result["balanced_accuracy"] == pytest.approx(0.5)
        assert result["accuracy"] == pytest.approx(accuracy, abs=0.05)


def test_speaker_identity_leaks_only_through_shared_splits():
    X, locales, groups = synthetic(language=0.0, speaker=2.0, n_speakers=10)
    y, _ = probing.task_labels(locales, task="3way")
    shared = probing.probe(X, y, groups, config=FAST, split="shared")
    grouped = probing.probe(X, y, groups, config=FAST, split="grouped")
    assert shared["balanced_accuracy"] > 0.8
    assert grouped["balanced_accuracy"] < 0.6


@pytest.mark.parametrize("kwargs, error, match", [
    ({"X": np.zeros(10)}, ParameterError, "2-d"),
    ({"y": np.zeros(5, dtype=int)}, ParameterError, "one label per row"),
    ({"groups": np.zeros(3)}, ParameterError, "one speaker id per row"),
    ({"X": np.full((240, 4), np.nan)}, DataError, "NaN"),
    ({"estimator": "mlp"}, ParameterError, "estimator must be"),
    ({"split": "random"}, ParameterError, "split must be"),
    ({"n_permutations": -2}, ParameterError, "n_permutations"),
])
def test_probe_rejects_bad_input(kwargs, error, match):
    X, locales, groups = synthetic()
    y, _ = probing.task_labels(locales, task="binary")
    args = {"X": X, "y": y, "groups": groups, **kwargs}
    with pytest.raises(error, match=match):
        probing.probe(args.pop("X"), args.pop("y"), args.pop("groups"), config=FAST, **args)


def test_probe_table_and_summaries():
    X, locales, groups = synthetic(language=1.0)
    reps = {"signal": X, "noise": np.random.default_rng(2).normal(size=X.shape)}
    cfg = probing.ProbeConfig(n_splits=3, n_permutations=4, permutation_tasks=("binary",))
    table = probing.probe_table(reps, locales, groups, config=cfg)
    per_rep = 2 * len(probing.PROBES) - 1  # original_rbf is binary only
    assert len(table) == 2 * per_rep
    assert set(table["probe"]) == set(probing.PROBES)
    tested = table["p_value"].notna()
    assert set(table.loc[tested, "probe"]) == {"linear"}
    assert set(table.loc[tested, "task"]) == {"binary"}
    # two "seeds" -> confidence intervals and selectivity
    other = probing.probe_table(reps, locales, groups, config=cfg, seed=1)
    both = pd.concat([table.assign(seed=0), other.assign(seed=1)], ignore_index=True)
    both["condition"] = "test"
    summary = probing.summarize(both)
    row = summary.query("representation == 'signal' and task == 'binary' and probe == 'linear'")
    assert row["n_seeds"].item() == 2 and row["ci_low"].item() <= row["mean"].item()
    assert "n_significant" in summary
    sel = probing.selectivity(both)
    assert len(sel) == 2 * 2 * 2
    signal = sel.query("representation == 'signal'")["selectivity"]
    assert (signal > 0.2).all()
    with pytest.raises(DataError, match="'noise' contains NaN"):
        probing.probe_table({"noise": np.full(X.shape, np.nan)}, locales, groups, config=cfg)
    with pytest.raises(ParameterError, match="'short' must be"):
        probing.probe_table({"short": X[:5]}, locales, groups, config=cfg)
    with pytest.raises(ParameterError, match="unknown probe"):
        probing.probe_table(reps, locales, groups, config=cfg, probes=("linear", "knn"))


def test_summarize_skips_probes_without_scores():
    """The smoke preset's probe set has too few speakers for the grouped control task: every
    such row is NaN with a ``note``. ``summarize`` must report those groups as unscored (NaN,
    ``n_seeds`` 0) and average the others over the seeds that have a score."""
    X, locales, groups = synthetic(n_speakers=1)  # one speaker per language
    cfg = probing.ProbeConfig(n_splits=3, n_permutations=3, permutation_tasks=("binary",))
    table = pd.concat([probing.probe_table({"x": X}, locales, groups, config=cfg, seed=s)
                       .assign(seed=s, condition="none") for s in (0, 1, 2)], ignore_index=True)
    control = table[table["probe"] == "control"]
    assert control["balanced_accuracy"].isna().all() and (control["note"] != "").all()
    table.loc[(table["probe"] == "linear_shared") & (table["seed"] == 2), "accuracy"] = np.nan
    for metric in ("balanced_accuracy", "accuracy"):
        summary = probing.summarize(table, metric=metric).set_index(["task", "probe"])
        assert summary.loc[("binary", "control"), "n_seeds"] == 0
        assert np.isnan(summary.loc[("binary", "control"), ["mean", "ci_low", "ci_high"]]
                        .astype(float)).all()
        assert summary.loc[("binary", "control_shared"), "n_seeds"] == 3
        assert np.isfinite(summary.loc[("binary", "control_shared"), "mean"])
    shared = probing.summarize(table, metric="accuracy").set_index(["task", "probe"])
    expected = table.query("probe == 'linear_shared' and task == 'binary'")["accuracy"].iloc[:2]
    assert shared.loc[("binary", "linear_shared"), "n_seeds"] == 2
    assert shared.loc[("binary", "linear_shared"), "mean"] == pytest.approx(expected.mean())
    sel = probing.selectivity(table)
    assert sel["selectivity"].isna().all()
    sel_summary = probing.summarize(sel, metric="selectivity", by=("condition", "task"))
    assert (sel_summary["n_seeds"] == 0).all() and sel_summary["mean"].isna().all()
    empty = probing.summarize(table.iloc[:0])
    assert empty.empty and {"mean", "ci_low", "ci_high", "n_seeds"} <= set(empty.columns)
    with pytest.raises(ParameterError, match="metric 'f1' is not a column"):
        probing.summarize(table, metric="f1")


def test_balance_locales():
    table = pd.DataFrame({"locale": ["es"] * 5 + ["it"] * 3 + ["ja"] * 4})
    keep = probing.balance_locales(table, seed=0)
    assert table.iloc[keep]["locale"].value_counts().tolist() == [3, 3, 3]


def test_roc_auc_is_sklearns():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    s = y + rng.normal(size=60)
    s[:10] = np.round(s[:10])  # ties count half
    assert probing.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    y3 = rng.integers(0, 3, 60)
    S = rng.normal(size=(60, 3)) + np.eye(3)[y3]
    assert probing.roc_auc(y3, S) == pytest.approx(
        np.mean([roc_auc_score(y3 == k, S[:, k]) for k in range(3)]))
    assert np.isnan(probing.roc_auc(np.zeros(5, dtype=int), np.arange(5.0)))
    assert probing.roc_auc(y, -s) == pytest.approx(1 - probing.roc_auc(y, s))


def test_class_weights_centre_the_threshold_on_unequal_classes():
    """On 1:2 labels with a weak signal, the unweighted probe leans to the larger class (recall
    of the smaller one low); the balanced one does not, and AUC is about the same."""
    X, locales, groups = multilingual(language=0.25, n_speakers=10)
    y, _ = probing.task_labels(locales, task="binary")
    weighted = probing.probe(X, y, groups, config=FAST)
    plain = probing.probe(X, y, groups, config=probing.ProbeConfig(n_splits=4, n_permutations=0,
                                                                   class_weight=None))
    assert weighted["balanced_accuracy"] > plain["balanced_accuracy"]
    assert weighted["auc"] == pytest.approx(plain["auc"], abs=0.05)
    assert 0.5 < weighted["auc"] <= 1


def test_decode_recovers_a_linear_property_and_not_noise():
    X, locales, groups = multilingual(language=0.3, n_speakers=8)
    rng = np.random.default_rng(0)
    target = X[:, :3].sum(axis=1) + 0.3 * rng.normal(size=len(X))
    strata, _ = probing.task_labels(locales, task="3way")
    found = probing.decode(X, target, groups, config=FAST, strata=strata)
    assert found["r2"] > 0.7 and found["n_speakers"] == 8
    noise = probing.decode(rng.normal(size=X.shape), target, groups, config=FAST, strata=strata)
    assert -0.2 < noise["r2"] < 0.1
    with pytest.raises(ParameterError, match="target must have one value"):
        probing.decode(X, target[:-1], groups, config=FAST)


def test_other_targets_table_speaker_chance_and_rows():
    X, locales, groups = multilingual(language=0.3, n_speakers=6)
    rng = np.random.default_rng(1)
    table = probing.other_targets_table({"x": X, "noise": rng.normal(size=X.shape)}, locales, groups,
                                        config=FAST, nuisance={"duration": X[:, 0]})
    assert table[["representation", "task"]].values.tolist() == [
        ["x", "speaker"], ["x", "duration"], ["noise", "speaker"], ["noise", "duration"]]
    speaker = table[table["task"] == "speaker"].set_index("representation")
    assert (speaker["chance"] == 1 / 6).all() and (speaker["split"] == "shared").all()
    assert speaker.loc["x", "balanced_accuracy"] > 0.8  # the speaker offsets are strong
    assert speaker.loc["noise", "balanced_accuracy"] < 0.4
    assert table.set_index(["representation", "task"]).loc[("x", "duration"), "r2"] > 0.9


@pytest.mark.parametrize("language, significant", [(2.0, True), (0.0, False)])
def test_permutation_test_agrees_with_sklearns(language, significant):
    """Chapter 4's check, moved here: probing.probe's permutation test is scikit-learn's
    permutation_test_score with groups=speaker (shuffles within speakers, same folds, balanced
    accuracy, the same class-weighted pipeline); its permutations come from another generator,
    so the p-values agree up to the randomness of the draws."""
    from sklearn.model_selection import permutation_test_score

    X, locales, groups = multilingual(language=language, n_speakers=6)
    y, _ = probing.task_labels(locales, task="binary")
    config = probing.ProbeConfig(n_splits=3, n_permutations=30)
    folds = probing.grouped_splits(y, groups, n_splits=3, seed=0)
    score, null, p_sklearn = permutation_test_score(
        probing.linear_probe(config=config), X, y, groups=groups, cv=folds,
        scoring="balanced_accuracy", n_permutations=30, random_state=0)
    ours = probing.probe(X, y, groups, config=config)
    assert ours["balanced_accuracy"] == pytest.approx(score, abs=1e-6)
    if significant:
        assert ours["p_value"] == p_sklearn == pytest.approx(1 / 31)
    else:
        assert ours["p_value"] > 0.1 and p_sklearn > 0.1


def test_ridge_predictions_are_sklearns_ridge():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(2)
    X, y, T = rng.normal(size=(40, 6)), rng.normal(size=40), rng.normal(size=(7, 6))
    found = probing.ridge_predictions(X, y, T, alphas=[0.1, 10.0])
    for j, alpha in enumerate([0.1, 10.0]):
        np.testing.assert_allclose(found[:, j], Ridge(alpha=alpha).fit(X, y).predict(T), atol=1e-10)
