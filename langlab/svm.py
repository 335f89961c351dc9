"""Many linear SVMs at once: the solver behind the probes' permutation tests (Chapter 4).

A permutation test refits the same linear probe on the same inputs with hundreds of label
sets. :func:`squared_hinge_svms` solves :class:`sklearn.svm.LinearSVC`'s problem for all of
them together, with a cost per clip (:func:`class_costs`: ``class_weight="balanced"``), and
:func:`decision_label_sets` turns one cross-validation fold into the test clips' decision
values per label set (one-vs-rest for more than two classes, as ``LinearSVC``);
:func:`predict_label_sets` into predictions. Scoring them is :mod:`langlab.probing`'s job.
"""
from __future__ import annotations

import warnings

import numpy as np

#: Largest representation size for which permutation tests use :func:`squared_hinge_svms`.
BATCH_MAX_DIMS = 512


def squared_hinge_svms(X, Y, *, C: float, costs=None, tol: float = 1e-8, max_iter: int = 100
                       ) -> np.ndarray:
    """Solve many linear SVMs with the same inputs and different labels at once.

    Each problem is the one :class:`sklearn.svm.LinearSVC` solves (L2 penalty, squared hinge
    loss, intercept as an extra input of 1 that is penalised too, as in liblinear):
    ``min_w 0.5 |w|^2 + C sum_i c_i max(0, 1 - Y_i w.x_i)^2`` with per-clip costs ``c_i``
    (1 without class weights; :func:`class_costs`). It is strictly convex, so its
    solution is unique; a Newton method with a backtracking line search finds it to machine
    precision in a few steps, for all problems together, with matrix products instead of
    thousands of separate fits. Used for the permutation tests' null distributions (Chapter 4).

    Parameters
    ----------
    X : np.ndarray [shape=(n_samples, n_dims)]
        Standardised inputs (the column of ones for the intercept is added here).
    Y : np.ndarray [shape=(n_problems, n_samples)]
        Labels +1 / -1 of each problem.
    C : float
        LinearSVC's ``C``.
    costs : np.ndarray [shape=(n_problems, n_samples)], optional
        Each clip's factor on ``C`` (LinearSVC's class weights times sample weights); default 1.
    tol : float
        Stop when every gradient entry is below ``tol`` times its size at the start.
    max_iter : int
        Newton steps at most.

    Returns
    -------
    np.ndarray [shape=(n_problems, n_dims + 1)]
        Weights; the last column is the intercept.
    """
    X = np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])
    Y = np.asarray(Y, dtype=np.float64)
    n, d = X.shape
    Cs = C * (np.ones_like(Y) if costs is None else np.broadcast_to(np.asarray(costs, dtype=np.float64),
                                                                     Y.shape))
    W = np.zeros((Y.shape[0], d))
    eye = np.eye(d)
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, d * d) if n * d * d <= 8_000_000 else None
    steps = 0.5 ** np.arange(20)

    def objective(W, Y, Cs):
        margin = np.maximum(0.0, 1.0 - Y * (W @ X.T))
        return 0.5 * np.sum(W * W, axis=1) + np.sum(Cs * margin * margin, axis=1)

    start = None
    for _ in range(max_iter):
        Z = W @ X.T
        active = (Y * Z < 1) * Cs  # each active clip's cost
        G = W + 2 * ((active * (Z - Y)) @ X)
        size = np.abs(G).max(axis=1)
        start = size if start is None else start
        idx = np.flatnonzero(size > tol * np.maximum(1.0, start))
        if not idx.size:
            break
        if outer is not None:
            H = eye + 2 * (active[idx] @ outer).reshape(len(idx), d, d)
        else:
            H = eye + 2 * np.einsum("pn,ni,nj->pij", active[idx], X, X, optimize=True)
        step = np.linalg.solve(H, G[idx][..., None])[..., 0]
        f0 = objective(W[idx], Y[idx], Cs[idx])
        decrease = np.sum(G[idx] * step, axis=1)
        t = np.zeros(len(idx))
        for candidate in steps:  # the largest step with sufficient decrease (Armijo)
            open_ = t == 0
            if not open_.any():
                break
            trial = objective(W[idx] - candidate * step, Y[idx], Cs[idx])
            t[open_ & (trial <= f0 - 1e-4 * candidate * decrease)] = candidate
        W[idx] -= t[:, None] * step
    return W


def class_costs(labels, *, positive=None, class_weight: str | None = "balanced") -> np.ndarray:
    """Each clip's factor on ``C`` in one problem, as :class:`sklearn.svm.LinearSVC` weighs it.

    ``class_weight="balanced"`` weighs class ``k`` by ``n / (n_classes * n_k)`` (scikit-learn's
    ``compute_class_weight`` on the training labels). Binary (``positive=None``): every clip gets
    its class's weight. One-vs-rest problem of class ``positive``: its clips get its weight and
    all others 1, as liblinear does (it gives the "rest" the plain ``C``).

    Parameters
    ----------
    labels : np.ndarray [shape=(n_sets, n_samples)] or [shape=(n_samples,)]
        Training labels of each label set.
    positive : optional
        The class of a one-vs-rest problem; None for a two-class problem.
    class_weight : {"balanced", None}

    Returns
    -------
    np.ndarray, the shape of ``labels``, float
    """
    labels = np.asarray(labels)
    if class_weight is None:
        return np.ones(labels.shape)
    rows = np.atleast_2d(labels)
    out = np.empty(rows.shape)
    for i, row in enumerate(rows):
        classes, codes, counts = np.unique(row, return_inverse=True, return_counts=True)
        weight = (len(row) / (len(classes) * counts))[codes]
        out[i] = weight if positive is None else np.where(row == positive, weight, 1.0)
    return out.reshape(labels.shape)


def decision_label_sets(X_train, X_test, train_sets, *, classes, C: float,
                        class_weight: str | None = None) -> list[np.ndarray]:
    """Test-fold decision values of the linear SVM fitted to each of many label sets (Chapter 4).

    Label sets that hold every class of ``classes`` in training are solved together by
    :func:`squared_hinge_svms` (one-vs-rest for more than two classes, as ``LinearSVC``);
    a set lacking a class is fitted by ``LinearSVC`` alone, and a set with a single class
    decides for that class everywhere.

    Parameters
    ----------
    X_train : np.ndarray [shape=(n_train, n_dims)]
    X_test : np.ndarray [shape=(n_test, n_dims)]
        Standardised inputs of the fold's training and test clips.
    train_sets : np.ndarray [shape=(n_sets, n_train), dtype=int]
        Training labels of each label set.
    classes : np.ndarray
        Every class of the label sets, sorted (``np.unique`` of all of them).
    C : float
        LinearSVC's ``C``.
    class_weight : {None, "balanced"}
        LinearSVC's ``class_weight`` (:func:`class_costs`).

    Returns
    -------
    list of np.ndarray
        Per label set: ``[n_test]`` scores of ``classes[1]`` for two classes (positive: that
        class), else ``[n_test, n_classes]`` one-vs-rest scores (a class missing from a set's
        training labels scores ``-inf``).
    """
    from sklearn.svm import LinearSVC

    classes = np.asarray(classes)
    train_sets = np.asarray(train_sets)
    out: list[np.ndarray | None] = [None] * len(train_sets)
    complete = np.array([np.unique(row).size == classes.size for row in train_sets])
    rows = np.flatnonzero(complete)
    k = classes.size
    if rows.size and k == 2:
        Y = np.where(train_sets[rows] == classes[1], 1.0, -1.0)
        W = squared_hinge_svms(X_train, Y, C=C, costs=class_costs(train_sets[rows], class_weight=class_weight))
        decision = W[:, :-1] @ X_test.T + W[:, -1:]
    elif rows.size:
        Y = np.stack([np.where(train_sets[rows] == c, 1.0, -1.0) for c in classes], axis=1)
        costs = np.stack([class_costs(train_sets[rows], positive=c, class_weight=class_weight)
                          for c in classes], axis=1)
        n = train_sets.shape[1]
        W = squared_hinge_svms(X_train, Y.reshape(-1, n), C=C, costs=costs.reshape(-1, n))
        W = W.reshape(len(rows), k, -1)
        decision = np.transpose(np.einsum("pkd,nd->pkn", W[..., :-1], X_test) + W[..., -1:], (0, 2, 1))
    for j, i in enumerate(rows):
        out[i] = decision[j]
    for i in np.flatnonzero(~complete):
        seen = np.unique(train_sets[i])
        full = np.full((len(X_test), k), -np.inf)
        if seen.size < 2:
            full[:, np.searchsorted(classes, seen[0])] = 0.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                svc = LinearSVC(C=C, max_iter=10_000, class_weight=class_weight).fit(X_train, train_sets[i])
            d = svc.decision_function(X_test)
            d = np.stack([-d, d], axis=1) if d.ndim == 1 else d
            full[:, np.searchsorted(classes, seen)] = d
        out[i] = full if k > 2 else full[:, 1] - full[:, 0]
    return out


def predictions_from_decisions(decision: np.ndarray, *, classes) -> np.ndarray:
    """The predicted class of each clip from :func:`decision_label_sets`' values of one set."""
    classes = np.asarray(classes)
    if decision.ndim == 1:
        return np.where(decision > 0, classes[1], classes[0])
    return classes[np.argmax(decision, axis=1)]


def predict_label_sets(X_train, X_test, train_sets, *, classes, C: float,
                       class_weight: str | None = None) -> list[np.ndarray]:
    """Test-fold predictions of the linear SVM fitted to each of many label sets (Chapter 4):
    :func:`decision_label_sets`, each turned into classes (one-vs-rest: the highest score).

    Returns
    -------
    list of np.ndarray [shape=(n_test,)]
        The predictions of each label set, in the order of ``train_sets``.
    """
    return [predictions_from_decisions(d, classes=classes)
            for d in decision_label_sets(X_train, X_test, train_sets, classes=classes, C=C,
                                         class_weight=class_weight)]
