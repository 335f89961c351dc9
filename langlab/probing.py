"""Linear probes of learned representations, with baselines and statistics (Chapters 4 and 5).

A *probe* asks whether a property (here: the language of a clip) can be read off a
representation by a simple classifier. This module is generic over "a representation matrix
``X`` of shape ``(n_clips, n_dims)``, labels and speaker groups", so the LSTM chapter (its
hidden and cell states) and the autoencoder chapter (its latent code) use the same procedure:

- :func:`probe`: one probe, speaker-grouped cross-validation, accuracy and balanced accuracy,
  and a permutation-test p-value that respects the speakers;
- :func:`probe_table`: the main probe beside its baselines and controls, for every
  representation and task, as one long table;
- :func:`summarize` and :func:`selectivity`: means and 95 % confidence intervals over seeds;
- :func:`lstm_states`, :func:`mel_stats`, :func:`embed_2d`, :func:`embed_all`,
  :func:`plot_embeddings`, :func:`neighbour_share`, :func:`neighbour_share_chance`;
- :func:`lstm_probe_experiment`: Chapter 4's experiment, all pre-training conditions and seeds,
  cached in the artifact store.

The permutation test and speakers. :func:`sklearn.model_selection.permutation_test_score` with
``groups`` shuffles labels only *within* each group. In the embedded corpus every speaker speaks
every language, and that is the right null ("language is not readable beyond what a speaker's
clips share"); :func:`probe` shuffles the same way there (in its own loop, which reuses each
fold's standardisation and is several times faster). In Common Voice each speaker records one
language: shuffling within speakers then changes no label and every p-value is exactly 1, so
whole speakers swap labels instead (:func:`permute_labels`).
"""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab.errors import DataError, ParameterError, check
from langlab.presets import as_preset

#: The two probing tasks: Spanish vs the rest (the original's 1:2 labels) and the 3-way one.
TASKS = ("binary", "3way")

#: Probes of :func:`probe_table`, in display order (see :func:`probe_table` for each).
PROBES = ("linear", "control", "majority", "linear_shared", "control_shared", "original_rbf")

#: The locale that is the positive class of the binary task.
TARGET_LOCALE = "es"


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """How representations are probed (Chapter 4). Frozen; validated on creation.

    Parameters
    ----------
    n_splits : int
        Folds of the speaker-grouped cross-validation (fewer are used when a class has fewer
        speakers than folds).
    n_permutations : int
        Label permutations of the permutation test; 0 skips the test (p-value NaN).
    permutation_tasks : tuple of str
        Tasks whose main linear probe gets a permutation test (each permutation refits
        ``n_splits`` probes, so this is the expensive part).
    C : float
        Inverse regularisation strength of the linear SVC. A smaller value gives a simpler,
        more *selective* probe (Hewitt and Liang 2019) and fits faster.
    max_iter : int
        Iteration limit of the linear SVC.
    solver : {"batched", "liblinear"}
        How the linear SVC is fitted. ``"liblinear"``: scikit-learn's ``LinearSVC``, one fit
        at a time. ``"batched"``: :func:`squared_hinge_svms`, which solves the same convex
        problem to machine precision for many label sets at once, about ten times faster;
        scores agree with liblinear's up to its stopping tolerance (now and then one clip
        lying on the boundary flips). Used up to :data:`BATCH_MAX_DIMS` dimensions.
    test_size : float
        Test fraction of the original study's single random split (0.33).
    n_frames : int or None
        Spectrogram frames of each clip that the LSTM runs over before its final states are
        read; ``None`` means the LSTM's training window (``preset.lstm.window``), capped at the
        clip length.
    balance : bool
        Subsample the probe clips to equal counts per language (seeded).
    tsne_perplexity : float
        Perplexity of the t-SNE pictures.
    seed : int
        Base seed of every split, permutation and subsample; the training seed is added to it,
        so each seed of a network is probed with its own, reproducible splits.
    """

    n_splits: int = 5
    n_permutations: int = 100
    permutation_tasks: tuple[str, ...] = ("binary", "3way")
    C: float = 0.1
    max_iter: int = 10_000
    solver: str = "batched"
    test_size: float = 0.33
    n_frames: int | None = None
    balance: bool = True
    tsne_perplexity: float = 30.0
    seed: int = 0

    def __post_init__(self):
        check(isinstance(self.n_splits, int) and self.n_splits >= 2,
              f"n_splits must be an integer >= 2, got {self.n_splits!r}")
        check(isinstance(self.n_permutations, int) and self.n_permutations >= 0,
              f"n_permutations must be an integer >= 0, got {self.n_permutations!r}")
        check(isinstance(self.permutation_tasks, tuple)
              and all(t in TASKS for t in self.permutation_tasks),
              f"permutation_tasks must be a tuple of {TASKS}, got {self.permutation_tasks!r}")
        check(self.C > 0, f"C must be > 0, got {self.C!r}")
        check(isinstance(self.max_iter, int) and self.max_iter > 0,
              f"max_iter must be a positive integer, got {self.max_iter!r}")
        check(self.solver in ("batched", "liblinear"),
              f"solver must be 'batched' or 'liblinear', got {self.solver!r}")
        check(0 < self.test_size < 1, f"test_size must lie in (0, 1), got {self.test_size!r}")
        check(self.n_frames is None or (isinstance(self.n_frames, int) and self.n_frames >= 1),
              f"n_frames must be None or an integer >= 1, got {self.n_frames!r}")
        check(self.tsne_perplexity > 0,
              f"tsne_perplexity must be > 0, got {self.tsne_perplexity!r}")
        check(isinstance(self.seed, int) and self.seed >= 0,
              f"seed must be an integer >= 0, got {self.seed!r}")


PRESETS = {
    "smoke": ProbeConfig(n_splits=3, n_permutations=9, permutation_tasks=("binary",)),
    "book": ProbeConfig(n_splits=5, n_permutations=100, permutation_tasks=("binary",)),
    "paper": ProbeConfig(n_splits=5, n_permutations=1000, permutation_tasks=("binary", "3way")),
}


# --------------------------------------------------------------------------------------------
# Labels, splits and permutations
# --------------------------------------------------------------------------------------------

def task_labels(locales: Sequence[str], *, task: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer labels of ``task`` for clips of the given ``locales``.

    Parameters
    ----------
    locales : sequence of str [shape=(n_clips,)]
        Language of each clip, e.g. ``"es"``, ``"it"``, ``"ja"``.
    task : {"binary", "3way"}
        ``"binary"``: Spanish = 1, every other language = 0, as in the original study (with
        equal counts of three languages the classes are 1:2). ``"3way"``: one label per
        language, in sorted locale order.

    Returns
    -------
    y : np.ndarray [shape=(n_clips,), dtype=int]
    class_names : tuple of str
        Name of each label value.
    """
    locales = np.asarray(locales, dtype=str)
    check(task in TASKS, f"task must be one of {TASKS}, got {task!r}")
    check(locales.size > 0, "task_labels needs at least one clip, got none")
    if task == "binary":
        check(TARGET_LOCALE in set(locales),
              f"the binary task needs {TARGET_LOCALE!r} clips; locales are {sorted(set(locales))}",
              DataError)
        return (locales == TARGET_LOCALE).astype(int), (f"not {TARGET_LOCALE}", TARGET_LOCALE)
    names = tuple(sorted(set(locales)))
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[loc] for loc in locales], dtype=int), names


def _check_xyg(X, y, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    groups = np.asarray(groups)
    check(X.ndim == 2, f"X must be a 2-d array [n_clips, n_dims], got shape {X.shape}")
    check(y.shape == (X.shape[0],),
          f"y must have one label per row of X ({X.shape[0]}), got shape {y.shape}")
    check(groups.shape == (X.shape[0],),
          f"groups must have one speaker id per row of X ({X.shape[0]}), got shape {groups.shape}")
    check(np.all(np.isfinite(X)), "X contains NaN or infinite values", DataError)
    check(np.unique(y).size >= 2, f"y needs at least 2 classes, got {np.unique(y).tolist()}")
    return X, y, groups


def labels_constant_within_groups(y, groups) -> bool:
    """True when every group (speaker) carries a single label."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    _, labels = np.unique(np.asarray(y), return_inverse=True)
    first = np.full(codes.max() + 1, -1)
    first[codes[::-1]] = labels[::-1]  # each group's first label
    return bool(np.all(labels == first[codes]))


def grouped_splits(y, groups, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Speaker-grouped, class-stratified folds: no speaker is in a fold's train and test part.

    Uses :class:`sklearn.model_selection.StratifiedGroupKFold` with shuffling. When the rarest
    class has fewer speakers than ``n_splits``, that many folds are used instead.

    Returns
    -------
    list of (train_indices, test_indices)
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(y)
    groups = np.asarray(groups)
    speakers_per_class = pd.Series(groups).groupby(y).nunique()
    k = int(min(n_splits, speakers_per_class.min()))
    check(k >= 2, "speaker-grouped cross-validation needs at least 2 speakers per class; got "
          f"{speakers_per_class.to_dict()} speakers per class", DataError)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has only ... members"
        return [(train, test) for train, test in cv.split(np.zeros(len(y)), y, groups)]


def shared_splits(y, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Class-stratified folds that ignore speakers (a speaker's clips land on both sides)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    k = int(min(n_splits, np.bincount(y).min()))
    check(k >= 2, f"cross-validation needs at least 2 clips per class, got {np.bincount(y)}",
          DataError)
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y))


def permute_labels(y, groups, *, rng: np.random.Generator) -> np.ndarray:
    """One permutation of ``y`` that respects the speakers (the null of the permutation test).

    When every speaker has a single label (Common Voice: one language per speaker), the
    speakers' labels are shuffled among the speakers, so each speaker keeps all its clips under
    one, now random, label. Otherwise labels are shuffled within each speaker, as
    :func:`sklearn.model_selection.permutation_test_score` does with ``groups``.
    """
    y = np.asarray(y)
    _, first, codes = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
    if labels_constant_within_groups(y, codes):
        return rng.permutation(y[first])[codes].astype(y.dtype)
    out = y.copy()
    for g in range(len(first)):
        idx = np.flatnonzero(codes == g)
        out[idx] = y[rng.permutation(idx)]
    return out


def control_labels(y, groups, *, seed: int) -> np.ndarray:
    """Labels of the control task (Hewitt and Liang 2019): each speaker gets one random label.

    Every clip of a speaker gets that speaker's label, so the control task carries speaker
    identity and no language. The speakers' labels are a seeded, shuffled assignment with the
    classes in the proportions of ``y`` (each class gets at least one speaker when there are
    enough speakers). A probe that scores well on the control task memorises speakers.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    speakers = np.unique(groups)
    classes, counts = np.unique(y, return_counts=True)
    share = counts / counts.sum() * len(speakers)
    n = np.floor(share).astype(int)
    if len(speakers) >= len(classes):
        n = np.maximum(n, 1)
    while n.sum() > len(speakers):  # the maxima above may overshoot: take from the largest
        n[np.argmax(n)] -= 1
    for i in np.argsort(-(share - n))[: len(speakers) - n.sum()]:  # largest remainders
        n[i] += 1
    speaker_label = dict(zip(speakers, rng.permutation(np.repeat(classes, n))))
    return np.array([speaker_label[g] for g in groups], dtype=y.dtype)


# --------------------------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------------------------

def linear_probe(*, config: ProbeConfig, seed: int = 0):
    """The linear probe: ``StandardScaler`` then ``LinearSVC`` in one scikit-learn pipeline.

    The scaler is fitted on each training fold only, so no test clip leaks into it.
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(),
                         LinearSVC(C=config.C, max_iter=config.max_iter, random_state=seed))


def original_probe(*, seed: int = 0):
    """What the original study called a linear SVC: scikit-learn's ``SVC()``, an RBF kernel,
    no standardisation."""
    from sklearn.svm import SVC

    return SVC(random_state=seed)


def _folds(X, splits, *, scale: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``(X_train, X_test, train, test)`` per fold; with ``scale``, standardised with the
    training fold's mean and standard deviation (as the pipeline's ``StandardScaler`` does;
    labels play no part, so permutations reuse the scaled folds)."""
    folds = []
    for train, test in splits:
        X_train, X_test = X[train].astype(np.float64), X[test].astype(np.float64)
        if scale:
            mean, std = X_train.mean(axis=0), X_train.std(axis=0)
            std[std == 0] = 1.0
            X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
        folds.append((X_train, X_test, train, test))
    return folds


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the classes present in ``y_true`` (as
    :func:`sklearn.metrics.balanced_accuracy_score`, without its input checks, which cost as much
    as fitting a probe)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == k] == k) for k in np.unique(y_true)]))


def _cv_scores(estimator, folds, y) -> tuple[float, float]:
    """Accuracy and balanced accuracy, each averaged over the test folds."""
    from sklearn.base import clone

    accuracy, balanced = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of hard, permuted label sets
        for X_train, X_test, train, test in folds:
            seen = np.unique(y[train])
            if seen.size < 2:  # a permutation left one class in training: that is the answer
                pred = np.full(len(test), seen[0])
            else:
                pred = clone(estimator).fit(X_train, y[train]).predict(X_test)
            accuracy.append(np.mean(pred == y[test]))
            balanced.append(balanced_accuracy(y[test], pred))
    return float(np.mean(accuracy)), float(np.mean(balanced))


def _null_scores(estimator, folds, y, groups, seeds) -> list[float]:
    return [_cv_scores(estimator, folds, permute_labels(y, groups, rng=np.random.default_rng(s)))[1]
            for s in seeds]


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


def _batched_linear_scores(folds, label_sets: np.ndarray, *, C: float
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and balanced accuracy (means over folds) of the linear probe for each row of
    ``label_sets``
    ``[n_sets, n_clips]``, via :func:`squared_hinge_svms` (one-vs-rest for more than 2
    classes, as LinearSVC). A set whose training fold lacks a class is fitted by LinearSVC."""
    from sklearn.svm import LinearSVC

    classes = np.unique(label_sets)
    scores = np.zeros((len(label_sets), len(folds)))
    accuracy = np.zeros((len(label_sets), len(folds)))
    for f, (X_train, X_test, train, test) in enumerate(folds):
        train_sets, test_sets = label_sets[:, train], label_sets[:, test]
        complete = np.array([np.unique(row).size == classes.size for row in train_sets])
        rows = np.flatnonzero(complete)
        if rows.size and classes.size == 2:
            Y = np.where(train_sets[rows] == classes[1], 1.0, -1.0)
            W = squared_hinge_svms(X_train, Y, C=C)
            pred = np.where(W[:, :-1] @ X_test.T + W[:, -1:] > 0, classes[1], classes[0])
        elif rows.size:
            k = classes.size
            Y = np.stack([np.where(train_sets[rows] == c, 1.0, -1.0) for c in classes], axis=1)
            W = squared_hinge_svms(X_train, Y.reshape(-1, len(train)), C=C)
            W = W.reshape(len(rows), k, -1)
            decision = np.einsum("pkd,nd->pkn", W[..., :-1], X_test) + W[..., -1:]
            pred = classes[np.argmax(decision, axis=1)]
        for j, i in enumerate(rows):
            scores[i, f] = balanced_accuracy(test_sets[i], pred[j])
            accuracy[i, f] = np.mean(test_sets[i] == pred[j])
        for i in np.flatnonzero(~complete):
            seen = np.unique(train_sets[i])
            if seen.size < 2:
                guess = np.full(len(test), seen[0])
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    guess = LinearSVC(C=C, max_iter=10_000).fit(X_train, train_sets[i]).predict(X_test)
            scores[i, f] = balanced_accuracy(test_sets[i], guess)
            accuracy[i, f] = np.mean(test_sets[i] == guess)
    return accuracy.mean(axis=1), scores.mean(axis=1)


def _batched_null(folds, y, groups, seeds, *, C: float) -> tuple[float, np.ndarray]:
    """Score of the real labels and of each permutation, all by :func:`squared_hinge_svms`."""
    from threadpoolctl import threadpool_limits

    sets = np.stack([y] + [permute_labels(y, groups, rng=np.random.default_rng(s)) for s in seeds])
    with threadpool_limits(limits=1):  # small products: threads only fight on a busy machine
        scores = _batched_linear_scores(folds, sets, C=C)[1]
    return float(scores[0]), scores[1:]


def _permutation_p_value(estimator, folds, y, groups, *, observed: float, n_permutations: int,
                         seed: int, n_jobs: int | None, batched: bool = False) -> float:
    """p-value of the balanced accuracy ``observed`` under speaker-respecting label permutations
    (Ojala and Garriga 2010): ``(1 + #{null >= observed}) / (1 + n_permutations)``.

    The splits stay fixed and the probe is refitted on every permuted label set (the linear
    SVC on up to :data:`BATCH_MAX_DIMS` dimensions all at once, by :func:`squared_hinge_svms`,
    which solves LinearSVC's problem exactly). Labels are
    shuffled within each speaker, as :func:`sklearn.model_selection.permutation_test_score`
    does with ``groups``, when speakers speak several languages (the embedded corpus); whole
    speakers swap labels when each speaker has one (Common Voice), see :func:`permute_labels`.
    """
    from joblib import Parallel, delayed

    seeds = [int(s) for s in np.random.SeedSequence([seed, 7919]).generate_state(n_permutations)]
    if batched:
        # All permutations at once; the real labels are scored by the same solver, so the
        # comparison with the null is like with like.
        observed, null = _batched_null(folds, y, groups, seeds, C=estimator.C)
        return float((np.sum(null >= observed - 1e-12) + 1) / (n_permutations + 1))
    if n_jobs in (None, 1):
        null = _null_scores(estimator, folds, y, groups, seeds)
    else:
        chunks = [c for c in np.array_split(seeds, max(1, abs(n_jobs) * 2)) if len(c)]
        parts = Parallel(n_jobs=n_jobs)(
            delayed(_null_scores)(estimator, folds, y, groups, [int(s) for s in c]) for c in chunks)
        null = [v for part in parts for v in part]
    return float((np.sum(np.asarray(null) >= observed - 1e-12) + 1) / (n_permutations + 1))


def probe(X, y, groups, *, config: ProbeConfig, estimator: str = "linear", split: str = "grouped",
          n_permutations: int | None = None, seed: int | None = None,
          n_jobs: int | None = None) -> dict[str, Any]:
    """Cross-validated probe of the labels ``y`` in the representation ``X``.

    Parameters
    ----------
    X : np.ndarray [shape=(n_clips, n_dims)]
        One representation vector per clip (LSTM states, autoencoder latents, mel statistics).
    y : np.ndarray [shape=(n_clips,), dtype=int]
        Labels, e.g. from :func:`task_labels`.
    groups : array-like [shape=(n_clips,)]
        Speaker of each clip (``client_id``).
    config : ProbeConfig
    estimator : {"linear", "majority", "original_rbf"}
        ``"linear"``: :func:`linear_probe` (fitted as ``config.solver`` says; both solvers
        give the same scores); ``"majority"``: always the training fold's most
        frequent class; ``"original_rbf"``: the original's ``SVC()`` (use with
        ``split="original"``).
    split : {"grouped", "shared", "original"}
        ``"grouped"``: speaker-grouped, stratified K-fold (:func:`grouped_splits`);
        ``"shared"``: stratified K-fold ignoring speakers; ``"original"``: the original's single
        random split, ``config.test_size`` of the clips for testing.
    n_permutations : int, optional
        Permutations of the test (default ``config.n_permutations``); 0 for none. The test
        statistic is the balanced accuracy; labels are permuted within speakers or, when each
        speaker has a single label, between speakers (see :func:`permute_labels`).
    seed : int, optional
        Seed of splits and permutations (default ``config.seed``).
    n_jobs : int, optional
        Processes for the permutations (joblib); ``None`` is one.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy`` (means over the test folds), ``p_value``
        (NaN without permutations; the smallest possible value is ``1 / (n_permutations + 1)``),
        ``n_permutations``, ``n_clips``, ``n_speakers``, ``n_classes``, ``n_splits``,
        ``majority`` (share of the largest class) and ``chance`` (``1 / n_classes``, the
        balanced accuracy of any constant answer).
    """
    from sklearn.dummy import DummyClassifier

    X, y, groups = _check_xyg(X, y, groups)
    seed = config.seed if seed is None else seed
    n_permutations = config.n_permutations if n_permutations is None else n_permutations
    check(isinstance(n_permutations, int) and n_permutations >= 0,
          f"n_permutations must be an integer >= 0, got {n_permutations!r}")
    from sklearn.svm import LinearSVC

    estimators = {"linear": lambda: LinearSVC(C=config.C, max_iter=config.max_iter,
                                              random_state=seed),
                  "majority": lambda: DummyClassifier(strategy="most_frequent"),
                  "original_rbf": lambda: original_probe(seed=seed)}
    check(estimator in estimators, f"estimator must be one of {tuple(estimators)}, got {estimator!r}")
    if split == "grouped":
        splits = grouped_splits(y, groups, n_splits=config.n_splits, seed=seed)
    elif split == "shared":
        splits = shared_splits(y, n_splits=config.n_splits, seed=seed)
    elif split == "original":
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(np.arange(len(y)), test_size=config.test_size,
                                       random_state=seed)
        splits = [(train, test)]
    else:
        raise ParameterError(f"split must be 'grouped', 'shared' or 'original', got {split!r}")
    model = estimators[estimator]()
    batched = (estimator == "linear" and config.solver == "batched"
               and X.shape[1] <= BATCH_MAX_DIMS)
    folds = _folds(X, splits, scale=estimator == "linear")  # linear: the linear_probe pipeline
    if batched:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            acc, bal = _batched_linear_scores(folds, y[None], C=config.C)
        accuracy, balanced = float(acc[0]), float(bal[0])
    else:
        accuracy, balanced = _cv_scores(model, folds, y)
    p_value = float("nan")
    if n_permutations:
        p_value = _permutation_p_value(model, folds, y, groups, observed=balanced,
                                       n_permutations=n_permutations, seed=seed, n_jobs=n_jobs,
                                       batched=batched)
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return {"accuracy": accuracy, "balanced_accuracy": balanced, "p_value": p_value,
            "n_permutations": int(n_permutations), "n_clips": int(len(y)),
            "n_speakers": int(np.unique(groups).size), "n_classes": int(counts.size),
            "n_splits": len(splits), "majority": float(counts.max() / counts.sum()),
            "chance": float(1 / counts.size)}


#: (probe name, estimator, split, labels) of :func:`probe_table`.
_PROBE_SPECS = {
    "linear": ("linear", "grouped", "task"),
    "control": ("linear", "grouped", "control"),
    "majority": ("majority", "grouped", "task"),
    "linear_shared": ("linear", "shared", "task"),
    "control_shared": ("linear", "shared", "control"),
    "original_rbf": ("original_rbf", "original", "task"),
}


def probe_table(representations: Mapping[str, np.ndarray], locales, groups, *, config: ProbeConfig,
                tasks: Sequence[str] = TASKS, probes: Sequence[str] = PROBES,
                seed: int | None = None, n_jobs: int | None = None) -> pd.DataFrame:
    """Every probe of every representation on every task, as one long table.

    The probes (column ``probe``):

    - ``linear``: the linear probe, speaker-grouped CV, with a permutation test for the tasks
      in ``config.permutation_tasks``;
    - ``control``: the same probe and split on the control task (:func:`control_labels`);
      selectivity is ``linear`` minus ``control`` (:func:`selectivity`);
    - ``majority``: the most frequent class of the training folds (66.7 % accuracy on the
      binary task with equal language counts, 50 % balanced accuracy);
    - ``linear_shared``/``control_shared``: as ``linear``/``control`` but with speakers on
      both sides of each split, which lets a probe use speaker identity;
    - ``original_rbf``: the original study's RBF ``SVC()`` on one random 67/33 split, binary
      task only ("what the original measured").

    Parameters
    ----------
    representations : mapping of name -> np.ndarray [shape=(n_clips, n_dims)]
        E.g. ``{"h": h, "c": c}``; all rows aligned with ``locales`` and ``groups``.
    locales, groups : array-like [shape=(n_clips,)]
        Language and speaker of each clip.
    tasks, probes : sequences of names from :data:`TASKS` and :data:`PROBES`.
    seed : int, optional
        Split and permutation seed (default ``config.seed``).

    Returns
    -------
    pd.DataFrame
        One row per (representation, task, probe): ``representation``, ``task``, ``probe``,
        ``split``, the fields of :func:`probe` and ``note``: empty, or why a probe could not
        run (e.g. a grouped control task with a single speaker in a class); such rows have NaN
        scores.
    """
    seed = config.seed if seed is None else seed
    check(len(representations) > 0, "probe_table needs at least one representation")
    for name in probes:
        check(name in _PROBE_SPECS, f"unknown probe {name!r}; expected some of {PROBES}")
    for rep, X in representations.items():  # bad input raises here, not as a NaN row
        check(np.ndim(X) == 2 and len(X) == len(locales),
              f"representation {rep!r} must be [n_clips={len(locales)}, n_dims], got shape "
              f"{np.shape(X)}")
        check(bool(np.all(np.isfinite(X))), f"representation {rep!r} contains NaN or infinite "
              "values", DataError)
    rows = []
    for task in tasks:
        y, _ = task_labels(locales, task=task)
        y_control = control_labels(y, groups, seed=seed + 1)
        for rep, X in representations.items():
            for name in probes:
                estimator, split, labels = _PROBE_SPECS[name]
                if name == "original_rbf" and task != "binary":
                    continue
                n_perm = (config.n_permutations
                          if name == "linear" and task in config.permutation_tasks else 0)
                try:
                    result = probe(X, y if labels == "task" else y_control, groups,
                                   config=config, estimator=estimator, split=split,
                                   n_permutations=n_perm, seed=seed, n_jobs=n_jobs)
                    note = ""
                except DataError as exc:  # e.g. too few speakers for a grouped control task
                    result = {"accuracy": float("nan"), "balanced_accuracy": float("nan"),
                              "p_value": float("nan")}
                    note = str(exc)
                rows.append({"representation": rep, "task": task, "probe": name, "split": split,
                             **result, "note": note})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Summaries over seeds
# --------------------------------------------------------------------------------------------

def summarize(results: pd.DataFrame, *, metric: str = "balanced_accuracy",
              by: Sequence[str] = ("condition", "representation", "task", "probe"),
              confidence: float = 0.95) -> pd.DataFrame:
    """Mean and confidence interval of ``metric`` over seeds (:func:`langlab.stats.mean_ci`).

    Rows whose ``metric`` is missing (a probe that could not run, see :func:`probe_table`'s
    ``note``; e.g. every grouped ``control`` row of the smoke preset, whose probe set has too
    few speakers) do not count: a group without any score gets NaN ``mean``, ``ci_low`` and
    ``ci_high`` and ``n_seeds`` 0 instead of an error.

    Returns
    -------
    pd.DataFrame
        One row per ``by`` group (in order of appearance) with ``mean``, ``ci_low``,
        ``ci_high``, ``n_seeds`` (the scores the mean is over) and, when the results have
        p-values, ``n_significant`` (p < 0.05) and ``max_p``. An empty ``results`` gives an
        empty table with these columns.
    """
    from langlab.stats import mean_ci

    check(metric in results.columns, f"metric {metric!r} is not a column; columns are "
          f"{list(results.columns)}")
    by = [b for b in by if b in results.columns]
    columns = [*by, "mean", "ci_low", "ci_high", "n_seeds"]
    if results.empty:
        return pd.DataFrame(columns=columns)
    groups = results.groupby(by, sort=False, dropna=False) if by else [((), results)]
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        values = pd.to_numeric(part[metric], errors="coerce").to_numpy(dtype=float)
        scored = np.isfinite(values)
        if scored.any():
            mean, low, high = mean_ci(values[scored], confidence=confidence)
        else:
            mean = low = high = float("nan")
        row = dict(zip(by, key), mean=mean, ci_low=low, ci_high=high, n_seeds=int(scored.sum()))
        if "p_value" in part and part["p_value"].notna().any():
            p = part["p_value"].dropna()
            row.update(n_significant=int((p < 0.05).sum()), max_p=float(p.max()))
        rows.append(row)
    return pd.DataFrame(rows)


def selectivity(results: pd.DataFrame, *, metric: str = "balanced_accuracy",
                task_probe: str = "linear", control_probe: str = "control") -> pd.DataFrame:
    """Selectivity (Hewitt and Liang 2019): task score minus control-task score, same probe,
    same split, per row key (condition, seed, representation, task)."""
    keys = [k for k in ("condition", "seed", "representation", "task") if k in results.columns]
    task = results.loc[results["probe"] == task_probe, keys + [metric]]
    control = results.loc[results["probe"] == control_probe, keys + [metric]]
    out = task.merge(control, on=keys, suffixes=("_task", "_control"))
    out = out.rename(columns={f"{metric}_task": "task_score", f"{metric}_control": "control_score"})
    out["selectivity"] = out["task_score"] - out["control_score"]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Representations
# --------------------------------------------------------------------------------------------

def mel_stats(S) -> np.ndarray:
    """The no-network baseline: per-band mean and standard deviation over time.

    Parameters
    ----------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms (``FeatureSet.scaled()``).

    Returns
    -------
    np.ndarray [shape=(n_clips, 2 * n_mels), dtype=float32]
    """
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    return np.concatenate([S.mean(axis=2), S.std(axis=2)], axis=1).astype(np.float32)


def lstm_states(model, S, *, pooled: bool = False, n_frames: int | None = None,
                batch_size: int = 64) -> dict[str, np.ndarray]:
    """Final hidden and cell states of the (frozen) LSTM after it has heard each clip.

    Each clip's first ``n_frames`` frames are fed as one sequence, from zero initial states;
    the states after the last frame are the clip's representation (Chapter 4).

    Parameters
    ----------
    model : keras.Model
        A next-frame LSTM (:func:`langlab.models.build_next_frame_lstm`), trained or not.
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms, as the model was trained on.
    pooled : bool
        Also return ``h_pooled``: the hidden state averaged over all time steps.
    n_frames : int, optional
        Frames fed per clip (default: all of them).

    Returns
    -------
    dict of np.ndarray [shape=(n_clips, units), dtype=float32]
        ``h``, ``c`` and, with ``pooled=True``, ``h_pooled``.
    """
    from langlab import models

    return _read_states(models.state_model(model, sequences=pooled), S, pooled=pooled,
                        n_frames=n_frames, batch_size=batch_size)


def _read_states(reader, S, *, pooled: bool, n_frames: int | None, batch_size: int = 64):
    """Run a :func:`langlab.models.state_model` view over the clips (compiled ``predict``)."""
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    if n_frames is not None:
        check(isinstance(n_frames, (int, np.integer)) and n_frames >= 1,
              f"n_frames must be an integer >= 1, got {n_frames!r}")
        S = S[:, :, :n_frames]
    x = np.ascontiguousarray(np.transpose(S, (0, 2, 1)))  # [n_clips, n_frames, n_mels]
    outputs = reader.predict(x, batch_size=batch_size, verbose=0)
    if pooled:
        seq, h, c = outputs
        states = {"h": h, "c": c, "h_pooled": np.asarray(seq).mean(axis=1)}
    else:
        h, c = outputs
        states = {"h": h, "c": c}
    return {k: np.asarray(v, dtype=np.float32) for k, v in states.items()}


def balance_locales(table: pd.DataFrame, *, seed: int) -> np.ndarray:
    """Row positions of ``table`` that give equal clip counts per ``locale`` (seeded subsample)."""
    check("locale" in table.columns, "the clip table needs a 'locale' column", DataError)
    rng = np.random.default_rng(seed)
    locales = table["locale"].to_numpy()
    n = min(int((locales == loc).sum()) for loc in np.unique(locales))
    keep = [np.sort(rng.choice(np.flatnonzero(locales == loc), size=n, replace=False))
            for loc in np.unique(locales)]
    return np.sort(np.concatenate(keep))


# --------------------------------------------------------------------------------------------
# Pictures
# --------------------------------------------------------------------------------------------

def embed_2d(X, *, method: str = "pca", seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-d embedding of standardised ``X`` by PCA or t-SNE (van der Maaten and Hinton 2008).

    Returns np.ndarray [shape=(n_clips, 2)].
    """
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=float)
    check(X.ndim == 2 and X.shape[0] >= 3, f"X must be [n_clips >= 3, n_dims], got {X.shape}")
    Z = StandardScaler().fit_transform(X)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(Z)
    if method == "tsne":
        from sklearn.manifold import TSNE

        from threadpoolctl import threadpool_limits

        perplexity = min(perplexity, (X.shape[0] - 1) / 3)
        # One thread: on a busy 2-core machine OpenMP's spinning threads make Barnes-Hut
        # t-SNE 10-50 times slower than a single thread.
        with threadpool_limits(limits=1):
            return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                        max_iter=1000).fit_transform(Z)
    raise ParameterError(f"method must be 'pca' or 'tsne', got {method!r}")


def embed_all(representations: Mapping[str, np.ndarray], *, methods: Sequence[str] = ("pca", "tsne"),
              seed: int = 0, perplexity: float = 30.0) -> dict[tuple[str, str], np.ndarray]:
    """:func:`embed_2d` of every representation by every method, keyed ``(name, method)``."""
    return {(name, method): embed_2d(X, method=method, seed=seed, perplexity=perplexity)
            for name, X in representations.items() for method in methods}


def neighbour_share(X, labels, *, k: int = 10) -> float:
    """How much a representation groups clips by ``labels``: the mean share of each clip's
    ``k`` nearest neighbours (Euclidean, after standardising ``X``, the clip itself left out)
    that carry the same label (Chapters 4 and 5).

    It counts what a t-SNE picture shows by eye (t-SNE keeps neighbourhoods), in all
    dimensions. A representation that ignores the labels scores about the share of clips with
    a clip's own label (1/3 for three equal languages, about 1 / n_speakers for speakers).

    Parameters
    ----------
    X : np.ndarray [shape=(n_clips, n_dims)]
    labels : array-like [shape=(n_clips,)]
        E.g. the language or the speaker of each clip.
    k : int
        Neighbours per clip; at most ``n_clips - 1``.

    Returns
    -------
    float in [0, 1]
    """
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    check(X.ndim == 2, f"X must be [n_clips, n_dims], got shape {X.shape}")
    check(labels.shape == (len(X),),
          f"labels must have one entry per row of X ({len(X)}), got shape {labels.shape}")
    check(isinstance(k, (int, np.integer)) and 1 <= k < len(X),
          f"k must be an integer in [1, n_clips - 1 = {len(X) - 1}], got {k!r}")
    Z = StandardScaler().fit_transform(X)
    idx = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z, return_distance=False)
    same = []
    for i, row in enumerate(idx):  # drop the clip itself (or, with duplicates, one neighbour)
        row = row[row != i][:k] if i in row else row[:k]
        same.append(np.mean(labels[row] == labels[i]))
    return float(np.mean(same))


def neighbour_share_chance(labels) -> float:
    """The :func:`neighbour_share` of a representation blind to ``labels``: the chance that a
    clip drawn at random from the other clips carries the same label (Chapters 4 and 5)."""
    labels = np.asarray(labels)
    n = len(labels)
    check(labels.ndim == 1 and n >= 2, f"labels must be one label per clip, at least 2, got shape {labels.shape}")
    counts = pd.Series(labels).value_counts().to_numpy()
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))


def plot_embeddings(representations: Mapping[str, np.ndarray], labels, *,
                    methods: Sequence[str] = ("pca", "tsne"), title: str = "",
                    seed: int = 0, perplexity: float = 30.0, legend: bool = True,
                    max_legend: int = 12, embedded: Mapping | None = None):
    """Scatter plots of 2-d embeddings: one row per representation, one column per method,
    points coloured by ``labels`` (a language or a speaker per clip).

    ``embedded`` (from :func:`embed_all`) reuses embeddings computed before, so that the same
    picture can be coloured twice without running t-SNE again. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if embedded is None:
        embedded = embed_all(representations, methods=methods, seed=seed, perplexity=perplexity)
    labels = np.asarray(labels, dtype=str)
    names = sorted(set(labels))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    fig, axes = plt.subplots(len(representations), len(methods), squeeze=False,
                             figsize=(3.6 * len(methods), 3.2 * len(representations)))
    for i, rep in enumerate(representations):
        for j, method in enumerate(methods):
            Z = embedded[(rep, method)]
            ax = axes[i, j]
            for k, name in enumerate(names):
                m = labels == name
                ax.scatter(Z[m, 0], Z[m, 1], s=9, alpha=0.75, color=cmap(k % cmap.N),
                           label=name, linewidths=0)
            # PCA's axes are its components, ordered by variance
            method_name, axis = ("t-SNE", "t-SNE") if method == "tsne" else ("PCA", "PC")
            ax.set_title(f"{rep}: {method_name}", fontsize=10)
            ax.set_xlabel(f"{axis} 1", fontsize=8)
            ax.set_ylabel(f"{axis} 2", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    if legend and len(names) <= max_legend:
        axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                           frameon=False, markerscale=2)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 4: the LSTM's states, every pre-training condition and seed
# --------------------------------------------------------------------------------------------
#: Store stage of one (condition, seed) unit of :func:`lstm_probe_experiment`.
STAGE = "lstm_probes"
#: ``condition`` of the baseline rows: the same architecture with its initial random weights,
#: and no network at all (mel statistics of the input).
UNTRAINED = "untrained"
INPUT = "input"
#: The representations of a network unit; the permutation test runs on the first two.
STATE_REPRESENTATIONS = ("h", "c", "h_pooled")


def probe_clips(preset, *, store=None, data_dir=None):
    """The probe clips of ``preset`` (role ``probe``, silent clips excluded, Chapter 1) and the
    row positions kept by :func:`balance_locales` (all rows when ``preset.probing.balance`` is
    off).

    Returns
    -------
    fs : langlab.features.FeatureSet
    keep : np.ndarray [shape=(n_kept,), dtype=int]
    """
    from langlab import features
    from langlab.store import default_store

    preset = as_preset(preset)
    fs = features.for_preset(preset, data_dir=data_dir, store=default_store(store)).where(role="probe")
    table = fs.table.reset_index(drop=True)
    check(len(table) > 0, "the corpus has no probe clips (role 'probe')", DataError)
    keep = (balance_locales(table, seed=preset.probing.seed) if preset.probing.balance
            else np.arange(len(table)))
    return fs, keep


def state_frames(preset, n_frames: int) -> int:
    """Frames of each probe clip the LSTM hears before its states are read (Chapter 4):
    ``preset.probing.n_frames`` or, when that is None, the length of the input sequences the
    LSTM was trained on (``window - shift``); never more than the clip's ``n_frames``."""
    preset = as_preset(preset)
    wanted = preset.probing.n_frames
    if wanted is None:
        lstm = preset.lstm
        wanted = lstm.window - getattr(lstm, "shift", 1)
    return int(min(wanted, n_frames))


def untrained_lstm(preset, *, seed: int, n_mels: int):
    """The LSTM of ``preset`` with the initial weights of training seed ``seed``, never trained
    (every condition's run of that seed starts from these weights)."""
    from langlab import models, training

    preset = as_preset(preset)
    models.set_seed(int(seed))
    return training.build_for(preset.lstm, n_mels=n_mels, seed=int(seed))


def _unit_entry(store, preset, *, condition: str, seed: int, n_frames: int, inputs):
    return store.entry(STAGE, config={"probing": preset.probing, "condition": condition,
                                      "seed": int(seed), "n_frames": int(n_frames)},
                       inputs=list(inputs), code=["langlab.probing"])


def _probe_unit(representations, locales, groups, *, config: ProbeConfig, seed: int,
                permute: Sequence[str]) -> pd.DataFrame:
    """probe_table of one unit; representations not in ``permute`` get no permutation test."""
    parts = []
    for name, X in representations.items():
        cfg = config if name in permute else dataclasses.replace(config, n_permutations=0)
        parts.append(probe_table({name: X}, locales, groups, config=cfg, seed=config.seed + seed))
    table = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(representations)}
    return table.sort_values(["task", "representation"], key=lambda col: col.map(
        order if col.name == "representation" else {t: i for i, t in enumerate(TASKS)}),
        kind="stable").reset_index(drop=True)


def _plan(preset, *, seeds, conditions, store, data_dir, n_jobs) -> dict[str, Any]:
    """The units of :func:`lstm_probe_experiment` and their store entries (trains missing runs)."""
    from langlab import training
    from langlab.store import code_version, default_store, stable_hash

    store = default_store(store)
    seeds = tuple(int(s) for s in (preset.lstm.seeds if seeds is None else seeds))
    conditions = tuple(preset.lstm.conditions if conditions is None else conditions)
    check(len(seeds) > 0, "seeds must name at least one training seed")
    fs, keep = probe_clips(preset, store=store, data_dir=data_dir)
    n_frames = state_frames(preset, fs.config.n_frames)
    units, run_keys = [], {}
    if conditions:
        runs = training.lstm_experiment(preset, seeds=seeds, conditions=conditions, store=store,
                                        data_dir=data_dir, n_jobs=n_jobs)
        units += [(row.condition, int(row.seed), [fs.key, row.key]) for row in runs.itertuples()]
        run_keys = {(row.condition, int(row.seed)): row.key for row in runs.itertuples()}
    untrained_key = f"untrained-{stable_hash(preset.lstm)}-{code_version('langlab.models')}"
    units += [(UNTRAINED, s, [fs.key, untrained_key]) for s in seeds]
    units += [(INPUT, s, [fs.key]) for s in seeds]
    entries = {(c, s): _unit_entry(store, preset, condition=c, seed=s, n_frames=n_frames, inputs=k)
               for c, s, k in units}
    return {"store": store, "fs": fs, "keep": keep, "n_frames": n_frames, "units": units,
            "entries": entries, "run_keys": run_keys}


def _lstm_weights(preset, condition: str, seed: int, *, run_keys, store, n_mels: int) -> list:
    """Weights of a trained run (read from its store entry) or of the untrained network."""
    import keras

    import langlab.layers  # noqa: F401  (registers the model's layers with Keras)

    from langlab import training

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: the optimizer's state is not restored
        if condition == UNTRAINED:
            return untrained_lstm(preset, seed=seed, n_mels=n_mels).get_weights()
        path = store.root / training.STAGE / run_keys[(condition, seed)] / "model.keras"
        check(path.exists(), f"trained LSTM {condition}/seed {seed} missing: {path}", DataError)
        return keras.models.load_model(path).get_weights()


def lstm_probe_experiment(preset, *, seeds=None, conditions=None, store=None, data_dir=None,
                          n_jobs: int | None = None) -> pd.DataFrame:
    """Probe the LSTM's states for language, every pre-training condition and seed (Chapter 4).

    For each trained run (:func:`langlab.training.lstm_experiment`) the frozen LSTM hears the
    first :func:`state_frames` frames of every probe clip (:func:`probe_clips`) from zero
    states; its final hidden state ``h``, final cell state ``c`` and its time-averaged hidden
    state ``h_pooled`` are probed with :func:`probe_table` (binary and 3-way tasks, all probes
    and controls, permutation tests for ``config.permutation_tasks``). Baseline rows:

    - ``condition="untrained"``: the same architecture with the seed's initial weights;
    - ``condition="input"``, ``representation="mel_stats"``: no network (:func:`mel_stats`).

    Every row of seed ``s`` uses the splits and permutations of seed ``config.seed + s``. Each
    (condition, seed) unit is a store entry (stage ``lstm_probes``, inputs: the probe features
    and the trained run), holding its rows and its states, so a rebuild recomputes nothing.

    Parameters
    ----------
    preset : str or Preset
    seeds, conditions : sequences, optional
        Default ``preset.lstm.seeds`` and ``preset.lstm.conditions``.
    store : Store, optional
    data_dir : path, optional
        A Common Voice download; default the embedded corpus.
    n_jobs : int, optional
        Units probed in parallel (joblib; default 1). Missing LSTM runs are trained first,
        with ``n_jobs`` passed to :func:`langlab.training.lstm_experiment`.

    Returns
    -------
    pd.DataFrame
        ``condition``, ``seed``, then the columns of :func:`probe_table`, plus ``n_frames``.
    """
    return _run(preset, seeds=seeds, conditions=conditions, store=store, data_dir=data_dir,
                n_jobs=n_jobs)[0]


def _run(preset, *, seeds, conditions, store, data_dir, n_jobs) -> tuple[pd.DataFrame, dict]:
    from joblib import Parallel, delayed

    preset = as_preset(preset)
    config = preset.probing
    check(n_jobs is None or n_jobs == -1 or (isinstance(n_jobs, int) and n_jobs >= 1),
          f"n_jobs must be None, -1 or a positive integer, got {n_jobs!r}")
    plan = _plan(preset, seeds=seeds, conditions=conditions, store=store, data_dir=data_dir,
                 n_jobs=n_jobs)
    fs, keep, n_frames, units, entries = (plan[k] for k in ("fs", "keep", "n_frames", "units",
                                                            "entries"))
    store = plan["store"]
    missing = [cs for cs, e in entries.items() if not e.exists()]
    if missing:
        table = fs.table.reset_index(drop=True).iloc[keep]
        locales = table["locale"].to_numpy()
        groups = table["client_id"].to_numpy()
        S = np.asarray(fs.scaled(), dtype=np.float32)[keep]
        todo = []
        reader = None
        for c, s in _progress(missing, "LSTM states"):
            if c == INPUT:
                todo.append(((c, s), {"mel_stats": mel_stats(S)}))
                continue
            weights = _lstm_weights(preset, c, s, run_keys=plan["run_keys"], store=store,
                                    n_mels=S.shape[1])
            if reader is None:  # one compiled view; each network's weights are loaded into it
                from langlab import models

                template = untrained_lstm(preset, seed=0, n_mels=S.shape[1])
                reader = models.state_model(template, sequences=True)
            template.set_weights(weights)
            todo.append(((c, s), _read_states(reader, S, pooled=True, n_frames=n_frames)))
        tables = Parallel(n_jobs=n_jobs or 1)(
            delayed(_probe_unit)(reps, locales, groups, config=config, seed=s,
                                 permute=tuple(reps))
            for (c, s), reps in todo)
        for ((c, s), reps), result in zip(todo, tables):
            result.insert(0, "seed", s)
            result.insert(0, "condition", c)
            result["n_frames"] = n_frames

            def fill(folder: Path, result=result, reps=reps) -> dict:
                result.to_csv(folder / "results.csv", index=False)
                np.savez(folder / "states.npz", **reps)
                table[["path", "locale", "client_id"]].to_csv(folder / "clips.csv", index=False)
                return {"condition": c, "seed": s, "n_clips": int(len(table)),
                        "representations": list(reps)}

            entries[(c, s)].write(fill, description=f"probes of {c!r}, seed {s}")
    frames = [_read_results(entries[(c, s)].path) for c, s, _ in units]
    results = pd.concat(frames, ignore_index=True)
    results["note"] = results["note"].fillna("")
    return results, plan


def probe_states(preset, *, condition: str, seed: int, store=None, data_dir=None,
                 ) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """The stored representations of one unit of :func:`lstm_probe_experiment` (running it for
    that unit if needed) and its clip table (``path``, ``locale``, ``client_id``), row-aligned.
    ``condition`` is a pre-training condition, ``"untrained"`` or ``"input"``."""
    preset = as_preset(preset)
    network = condition not in (UNTRAINED, INPUT)
    _, plan = _run(preset, seeds=[seed], conditions=[condition] if network else [], store=store,
                   data_dir=data_dir, n_jobs=None)
    entry = plan["entries"][(condition, int(seed))]
    with np.load(entry.path / "states.npz") as data:
        states = {k: data[k] for k in data.files}
    return states, pd.read_csv(entry.path / "clips.csv")


def _progress(items, desc):
    import sys

    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, file=sys.stderr)


def _read_results(folder: Path) -> pd.DataFrame:
    # only empty fields are missing values (a condition called "none" stays a string)
    return pd.read_csv(folder / "results.csv", keep_default_na=False, na_values=[""])
