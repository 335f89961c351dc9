"""Many linear SVMs at once: the solver behind the probes' permutation tests (Chapter 4).

A permutation test refits the same linear probe on the same inputs with hundreds of label
sets. :func:`squared_hinge_svms` solves :class:`sklearn.svm.LinearSVC`'s problem for all of
them together, and :func:`predict_label_sets` turns one cross-validation fold into one
prediction per label set (one-vs-rest for more than two classes, as ``LinearSVC``). Scoring
the predictions is :mod:`langlab.probing`'s job.
"""
from __future__ import annotations

import warnings

import numpy as np

#: Largest representation size for which permutation tests use :func:`squared_hinge_svms`.
BATCH_MAX_DIMS = 512


def squared_hinge_svms(X, Y, *, C: float, tol: float = 1e-8, max_iter: int = 100) -> np.ndarray:
    """Solve many linear SVMs with the same inputs and different labels at once.

    Each problem is the one :class:`sklearn.svm.LinearSVC` solves (L2 penalty, squared hinge
    loss, intercept as an extra input of 1 that is penalised too, as in liblinear):
    ``min_w 0.5 |w|^2 + C sum_i max(0, 1 - Y_i w.x_i)^2``. It is strictly convex, so its
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
    W = np.zeros((Y.shape[0], d))
    eye = np.eye(d)
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, d * d) if n * d * d <= 8_000_000 else None
    steps = 0.5 ** np.arange(20)

    def objective(W, Y):
        margin = np.maximum(0.0, 1.0 - Y * (W @ X.T))
        return 0.5 * np.sum(W * W, axis=1) + C * np.sum(margin * margin, axis=1)

    start = None
    for _ in range(max_iter):
        Z = W @ X.T
        active = (Y * Z < 1).astype(np.float64)
        G = W + 2 * C * ((active * (Z - Y)) @ X)
        size = np.abs(G).max(axis=1)
        start = size if start is None else start
        idx = np.flatnonzero(size > tol * np.maximum(1.0, start))
        if not idx.size:
            break
        if outer is not None:
            H = eye + 2 * C * (active[idx] @ outer).reshape(len(idx), d, d)
        else:
            H = eye + 2 * C * np.einsum("pn,ni,nj->pij", active[idx], X, X, optimize=True)
        step = np.linalg.solve(H, G[idx][..., None])[..., 0]
        f0 = objective(W[idx], Y[idx])
        decrease = np.sum(G[idx] * step, axis=1)
        t = np.zeros(len(idx))
        for candidate in steps:  # the largest step with sufficient decrease (Armijo)
            open_ = t == 0
            if not open_.any():
                break
            trial = objective(W[idx] - candidate * step, Y[idx])
            t[open_ & (trial <= f0 - 1e-4 * candidate * decrease)] = candidate
        W[idx] -= t[:, None] * step
    return W


def predict_label_sets(X_train, X_test, train_sets, *, classes, C: float) -> list[np.ndarray]:
    """Test-fold predictions of the linear SVM fitted to each of many label sets (Chapter 4).

    Label sets that hold every class of ``classes`` in training are solved together by
    :func:`squared_hinge_svms` (one-vs-rest for more than two classes, as ``LinearSVC``);
    a set lacking a class is fitted by ``LinearSVC`` alone, and a set with a single class
    predicts that class.

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

    Returns
    -------
    list of np.ndarray [shape=(n_test,)]
        The predictions of each label set, in the order of ``train_sets``.
    """
    from sklearn.svm import LinearSVC

    predictions: list[np.ndarray | None] = [None] * len(train_sets)
    complete = np.array([np.unique(row).size == classes.size for row in train_sets])
    rows = np.flatnonzero(complete)
    if rows.size and classes.size == 2:
        Y = np.where(train_sets[rows] == classes[1], 1.0, -1.0)
        W = squared_hinge_svms(X_train, Y, C=C)
        pred = np.where(W[:, :-1] @ X_test.T + W[:, -1:] > 0, classes[1], classes[0])
    elif rows.size:
        k = classes.size
        Y = np.stack([np.where(train_sets[rows] == c, 1.0, -1.0) for c in classes], axis=1)
        W = squared_hinge_svms(X_train, Y.reshape(-1, train_sets.shape[1]), C=C)
        W = W.reshape(len(rows), k, -1)
        decision = np.einsum("pkd,nd->pkn", W[..., :-1], X_test) + W[..., -1:]
        pred = classes[np.argmax(decision, axis=1)]
    for j, i in enumerate(rows):
        predictions[i] = pred[j]
    for i in np.flatnonzero(~complete):
        seen = np.unique(train_sets[i])
        if seen.size < 2:
            predictions[i] = np.full(len(X_test), seen[0])
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                svc = LinearSVC(C=C, max_iter=10_000).fit(X_train, train_sets[i])
                predictions[i] = svc.predict(X_test)
    return predictions
