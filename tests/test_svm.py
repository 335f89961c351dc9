"""The batched linear SVM solver of langlab.svm (Chapter 4): LinearSVC's problem, many label
sets at once."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from langlab import svm
from probe_data import multilingual


def standardised(X):
    return (X - X.mean(0)) / X.std(0)


def test_squared_hinge_svms_is_linear_svc():
    """Same weights as LinearSVC (run to a tiny tolerance), for every label set at once."""
    X, locales, _ = multilingual(language=0.4, n_speakers=6)
    Z = standardised(X)
    rng = np.random.default_rng(0)
    label_sets = np.stack([locales == "es", locales == "ja", rng.random(len(Z)) < 0.5]).astype(int)
    W = svm.squared_hinge_svms(Z, np.where(label_sets == 1, 1.0, -1.0), C=0.1)
    assert W.shape == (3, Z.shape[1] + 1)
    for w, y in zip(W, label_sets):
        svc = LinearSVC(C=0.1, tol=1e-10, max_iter=100_000).fit(Z, y)
        np.testing.assert_allclose(w, np.r_[svc.coef_[0], svc.intercept_], atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_label_sets_is_linear_svc(n_classes):
    """One-vs-rest for three classes, as LinearSVC; well-separated data, so no clip lies on the
    boundary and the predictions agree exactly."""
    X, locales, _ = multilingual(language=3.0, n_speakers=6)
    Z = standardised(X)
    y = np.searchsorted(np.unique(locales), locales) % n_classes
    train, test = np.arange(0, len(Z), 2), np.arange(1, len(Z), 2)
    sets = np.stack([y, np.roll(y, 3)])
    predictions = svm.predict_label_sets(Z[train], Z[test], sets[:, train],
                                         classes=np.unique(sets), C=0.1)
    assert len(predictions) == 2
    for pred, labels in zip(predictions, sets):
        svc = LinearSVC(C=0.1, tol=1e-10, max_iter=100_000).fit(Z[train], labels[train])
        np.testing.assert_array_equal(pred, svc.predict(Z[test]))
    assert np.mean(predictions[0] == y[test]) > 0.9  # the languages are separable


def test_predict_label_sets_with_classes_missing_from_training():
    """A set lacking a class is fitted by LinearSVC alone; a set with one class predicts it."""
    X, locales, _ = multilingual(language=3.0, n_speakers=6)
    Z = standardised(X)
    y = np.searchsorted(np.unique(locales), locales)
    train, test = np.arange(0, len(Z), 2), np.arange(1, len(Z), 2)
    two = np.where(y == 2, 1, y)  # class 2 never occurs
    one = np.full_like(y, 2)
    sets = np.stack([y, two, one])
    predictions = svm.predict_label_sets(Z[train], Z[test], sets[:, train],
                                         classes=np.unique(sets), C=0.1)
    expected = LinearSVC(C=0.1, max_iter=10_000).fit(Z[train], two[train]).predict(Z[test])
    np.testing.assert_array_equal(predictions[1], expected)
    assert set(predictions[1]) <= {0, 1}
    np.testing.assert_array_equal(predictions[2], np.full(len(test), 2))
    assert len(predictions[0]) == len(test) and set(predictions[0]) <= {0, 1, 2}


@pytest.mark.parametrize("n_classes", [2, 3])
def test_class_weighted_solver_is_linear_svc_balanced(n_classes):
    """Per-sample costs reproduce LinearSVC(class_weight="balanced") on unequal classes: both
    classes weighted in a two-class problem; in one-vs-rest, liblinear weights only the class's
    own clips (the rest keep C), and so does class_costs."""
    X, locales, _ = multilingual(language=0.4, n_speakers=6)
    Z = standardised(X)
    y = np.searchsorted(np.unique(locales), locales)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:10], np.flatnonzero(y == 2)[:20]]
    Z, y = Z[keep], y[keep] % n_classes if n_classes == 2 else y[keep]
    svc = LinearSVC(C=0.1, tol=1e-12, max_iter=200_000, class_weight="balanced").fit(Z, y)
    classes = np.unique(y)
    if n_classes == 2:
        W = svm.squared_hinge_svms(Z, np.where(y == 1, 1.0, -1.0)[None], C=0.1,
                                   costs=svm.class_costs(y[None]))
    else:
        W = np.concatenate([svm.squared_hinge_svms(Z, np.where(y == k, 1.0, -1.0)[None], C=0.1,
                                                   costs=svm.class_costs(y[None], positive=k))
                            for k in classes])
    np.testing.assert_allclose(W, np.c_[svc.coef_, svc.intercept_], atol=2e-5)
    # decision values of many label sets at once, as LinearSVC's decision_function
    train, test = np.arange(0, len(Z), 2), np.arange(1, len(Z), 2)
    sets = np.stack([y, np.roll(y, 5)])
    decisions = svm.decision_label_sets(Z[train], Z[test], sets[:, train], classes=classes, C=0.1,
                                        class_weight="balanced")
    for d, labels in zip(decisions, sets):
        ref = LinearSVC(C=0.1, tol=1e-12, max_iter=200_000, class_weight="balanced").fit(
            Z[train], labels[train]).decision_function(Z[test])
        np.testing.assert_allclose(d, ref, atol=1e-4)


def test_class_costs():
    y = np.array([0, 0, 0, 0, 1, 1])
    np.testing.assert_allclose(svm.class_costs(y), [0.75] * 4 + [1.5] * 2)
    np.testing.assert_allclose(svm.class_costs(y, positive=1), [1.0] * 4 + [1.5] * 2)
    np.testing.assert_allclose(svm.class_costs(y, class_weight=None), np.ones(6))
