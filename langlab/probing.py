"""Linear probes of learned representations, with baselines and statistics (Chapters 4 and 5).

A *probe* asks whether a property (here: the language of a clip) can be read off a
representation by a simple classifier. This module is generic over "a representation matrix
``X`` of shape ``(n_clips, n_dims)``, labels and speaker groups", so the LSTM chapter (its
hidden and cell states) and the autoencoder chapter (its latent code) use the same procedure:

- :func:`probe`: one probe, speaker-grouped cross-validation, accuracy, balanced accuracy and
  ROC AUC (:func:`roc_auc`, from the held-out folds' decision values), and a permutation-test
  p-value that respects the speakers; the linear probe is class-weighted
  (``class_weight="balanced"``), so its threshold is not pulled towards the larger class;
- :func:`probe_table`: the main probe beside its baselines and controls, for every
  representation and task, as one long table; :func:`other_targets_table`: what else the
  representation encodes (speaker identity, and clip duration and level by :func:`decode`);
- :func:`summarize` and :func:`selectivity`: means and 95 % confidence intervals over seeds;
- :func:`balance_locales`, :func:`probe_clips`: equal clip counts per language, the probe clips
  of a preset; :data:`UNTRAINED` and :data:`INPUT` name the baseline rows of the experiments
  (Chapter 4's is :mod:`langlab.lstm_probes`, Chapter 5's :func:`langlab.autoencoder.ae_probe_experiment`).

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
from typing import Any

import numpy as np
import pandas as pd

from langlab.errors import (DataError, ParameterError, check, check_choice, check_int, check_number, check_tuple,
                            checked)
from langlab.presets import as_preset
from langlab.svm import BATCH_MAX_DIMS, decision_label_sets, predictions_from_decisions

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
    class_weight : {"balanced", None}
        The linear SVC's ``class_weight``: ``"balanced"`` weighs each class inversely to its
        share of the training fold, so on the 1:2 binary task the threshold is not pulled
        towards "not Spanish" and balanced accuracy measures separability (Chapter 4).
    max_iter : int
        Iteration limit of the linear SVC.
    solver : {"batched", "liblinear"}
        How the linear SVC is fitted. ``"liblinear"``: scikit-learn's ``LinearSVC``, one fit
        at a time. ``"batched"``: :func:`langlab.svm.squared_hinge_svms`, which solves the
        same convex problem to machine precision for many label sets at once, about ten times
        faster; scores agree with liblinear's up to its stopping tolerance (now and then one
        clip lying on the boundary flips). Used up to :data:`langlab.svm.BATCH_MAX_DIMS`
        dimensions.
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
    class_weight: str | None = "balanced"
    max_iter: int = 10_000
    solver: str = "batched"
    test_size: float = 0.33
    n_frames: int | None = None
    balance: bool = True
    tsne_perplexity: float = 30.0
    seed: int = 0

    def __post_init__(self):
        checked(self, "n_splits", check_int, minimum=2)
        checked(self, "n_permutations", check_int, minimum=0)
        checked(self, "permutation_tasks", check_tuple, item=lambda t, name: check_choice(t, name, TASKS))
        check_number(self.C, "C", minimum=0, open_low=True)
        check(self.class_weight in ("balanced", None),
              f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        checked(self, "max_iter", check_int, minimum=1)
        check_choice(self.solver, "solver", ("batched", "liblinear"))
        check_number(self.test_size, "test_size", minimum=0, maximum=1, open_low=True, open_high=True)
        if self.n_frames is not None:
            checked(self, "n_frames", check_int, minimum=1)
        check_number(self.tsne_perplexity, "tsne_perplexity", minimum=0, open_low=True)
        checked(self, "seed", check_int, minimum=0)


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
    y = np.asarray(y)
    groups = np.asarray(groups)
    import hashlib

    key = (hashlib.sha1(y.tobytes() + "\0".join(map(str, groups)).encode()).hexdigest(), int(n_splits),
           int(seed))
    if key not in _SPLITS:
        if len(_SPLITS) >= 256:
            _SPLITS.pop(next(iter(_SPLITS)))
        _SPLITS[key] = _grouped_splits(y, groups, n_splits=n_splits, seed=seed)
    return [(train.copy(), test.copy()) for train, test in _SPLITS[key]]


#: :func:`grouped_splits` of recent (labels, speakers, folds, seed), which every probe of a
#: representation shares (StratifiedGroupKFold costs more than fitting a probe).
_SPLITS: dict = {}


def _grouped_splits(y, groups, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

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
                         LinearSVC(C=config.C, max_iter=config.max_iter, random_state=seed,
                                   class_weight=config.class_weight))


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


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve of decision values ``scores`` (threshold-free; 0.5 is chance).

    Two classes: ``scores`` ``[n]`` should rank the larger label above the smaller (the
    Mann-Whitney statistic, ties counted half). More classes: labels ``0 .. n_classes - 1``,
    ``scores`` ``[n, n_classes]`` (column ``k``: one-vs-rest decision values of label ``k``), and
    the mean over the labels present in ``y_true`` of their one-vs-rest AUCs (macro average).
    NaN when ``y_true`` holds a single class.
    """
    from scipy.stats import rankdata

    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    present = np.unique(y_true)
    if present.size < 2:
        return float("nan")

    def one(positive, s):
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        if not n_pos or not n_neg:
            return float("nan")
        ranks = rankdata(s)
        return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))

    if scores.ndim == 1:
        check(present.size == 2, f"1-d scores need two classes, got {present.tolist()}")
        return one(y_true == present[1], scores)
    check(scores.ndim == 2 and np.issubdtype(y_true.dtype, np.integer) and present.min() >= 0
          and present.max() < scores.shape[1],
          f"scores [n, n_classes] need labels 0..n_classes - 1; got labels {present.tolist()} for "
          f"scores of shape {scores.shape}")
    return float(np.mean([one(y_true == k, scores[:, k]) for k in present]))


def _fold_decision(model, X_test):
    """Decision values of a fitted scikit-learn classifier (probabilities where it has none)."""
    if hasattr(model, "decision_function"):
        return model.decision_function(X_test)
    proba = model.predict_proba(X_test)
    return proba[:, 1] if proba.shape[1] == 2 else proba


def _cv_scores(estimator, folds, y, *, auc: bool = False) -> tuple[float, float, float]:
    """Accuracy, balanced accuracy and (with ``auc``) ROC AUC, each averaged over the test
    folds."""
    from sklearn.base import clone

    accuracy, balanced, aucs = [], [], []
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of hard, permuted label sets
        for X_train, X_test, train, test in folds:
            seen = np.unique(y[train])
            if seen.size < 2:  # a permutation left one class in training: that is the answer
                pred = np.full(len(test), seen[0])
                decision = np.zeros(len(test)) if classes.size == 2 else np.zeros((len(test), classes.size))
            else:
                model = clone(estimator).fit(X_train, y[train])
                pred = model.predict(X_test)
                if auc:
                    decision = _fold_decision(model, X_test)
                    if classes.size > 2 and (decision.ndim == 1 or decision.shape[1] != classes.size):
                        decision = np.zeros((len(test), classes.size))  # a class unseen: no ranking
            accuracy.append(np.mean(pred == y[test]))
            balanced.append(balanced_accuracy(y[test], pred))
            if auc:
                aucs.append(_auc_with_classes(y[test], decision, classes))
    return (float(np.mean(accuracy)), float(np.mean(balanced)),
            float(np.nanmean(aucs)) if aucs else float("nan"))


def _auc_with_classes(y_true, decision, classes) -> float:
    """:func:`roc_auc` of one test fold; ``decision`` columns follow ``classes`` (all labels)."""
    if np.ndim(decision) == 1:
        return roc_auc(y_true, decision)
    codes = np.searchsorted(classes, y_true)
    return roc_auc(codes, np.where(np.isfinite(decision), decision, -1e300))


def _null_scores(estimator, folds, y, groups, seeds) -> list[float]:
    return [_cv_scores(estimator, folds, permute_labels(y, groups, rng=np.random.default_rng(s)))[1]
            for s in seeds]


def _batched_linear_scores(folds, label_sets: np.ndarray, *, C: float, class_weight: str | None = None,
                           n_auc: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy, balanced accuracy and ROC AUC (means over folds) of the linear probe for each
    row of ``label_sets`` ``[n_sets, n_clips]``, fitted by
    :func:`langlab.svm.decision_label_sets`; AUC for the first ``n_auc`` rows only (NaN after)."""
    classes = np.unique(label_sets)
    scores = np.zeros((len(label_sets), len(folds)))
    accuracy = np.zeros((len(label_sets), len(folds)))
    aucs = np.full((len(label_sets), len(folds)), np.nan)
    for f, (X_train, X_test, train, test) in enumerate(folds):
        test_sets = label_sets[:, test]
        decisions = decision_label_sets(X_train, X_test, label_sets[:, train], classes=classes, C=C,
                                        class_weight=class_weight)
        for i, decision in enumerate(decisions):
            pred = predictions_from_decisions(decision, classes=classes)
            scores[i, f] = balanced_accuracy(test_sets[i], pred)
            accuracy[i, f] = np.mean(test_sets[i] == pred)
            if i < n_auc:
                aucs[i, f] = _auc_with_classes(test_sets[i], decision, classes)
    return accuracy.mean(axis=1), scores.mean(axis=1), aucs.mean(axis=1)


def _batched_null(folds, y, groups, seeds, *, C: float, class_weight: str | None = None
                  ) -> tuple[float, np.ndarray]:
    """Score of the real labels and of each permutation, all by
    :func:`langlab.svm.squared_hinge_svms`."""
    from threadpoolctl import threadpool_limits

    sets = np.stack([y] + [permute_labels(y, groups, rng=np.random.default_rng(s)) for s in seeds])
    with threadpool_limits(limits=1):  # small products: threads only fight on a busy machine
        scores = _batched_linear_scores(folds, sets, C=C, class_weight=class_weight)[1]
    return float(scores[0]), scores[1:]


def _permutation_p_value(estimator, folds, y, groups, *, observed: float, n_permutations: int,
                         seed: int, n_jobs: int | None, batched: bool = False) -> float:
    """p-value of the balanced accuracy ``observed`` under speaker-respecting label permutations
    (Ojala and Garriga 2010): ``(1 + #{null >= observed}) / (1 + n_permutations)``.

    The splits stay fixed and the probe is refitted on every permuted label set (the linear
    SVC on up to :data:`langlab.svm.BATCH_MAX_DIMS` dimensions all at once, by
    :func:`langlab.svm.squared_hinge_svms`, which solves LinearSVC's problem exactly). Labels
    are shuffled within each speaker, as :func:`sklearn.model_selection.permutation_test_score`
    does with ``groups``, when speakers speak several languages (the embedded corpus); whole
    speakers swap labels when each speaker has one (Common Voice), see :func:`permute_labels`.
    """
    from joblib import Parallel, delayed

    seeds = [int(s) for s in np.random.SeedSequence([seed, 7919]).generate_state(n_permutations)]
    if batched:
        # All permutations at once; the real labels are scored by the same solver, so the
        # comparison with the null is like with like.
        observed, null = _batched_null(folds, y, groups, seeds, C=estimator.C,
                                       class_weight=estimator.class_weight)
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
        ``accuracy``, ``balanced_accuracy``, ``auc`` (:func:`roc_auc` of the held-out clips'
        decision values; 0.5 is chance for every task; all three means over the test folds),
        ``p_value``
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
                                              random_state=seed, class_weight=config.class_weight),
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
            acc, bal, auc = _batched_linear_scores(folds, y[None], C=config.C,
                                                   class_weight=config.class_weight, n_auc=1)
        accuracy, balanced, auc = float(acc[0]), float(bal[0]), float(auc[0])
    else:
        accuracy, balanced, auc = _cv_scores(model, folds, y, auc=True)
    p_value = float("nan")
    if n_permutations:
        p_value = _permutation_p_value(model, folds, y, groups, observed=balanced,
                                       n_permutations=n_permutations, seed=seed, n_jobs=n_jobs,
                                       batched=batched)
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return {"accuracy": accuracy, "balanced_accuracy": balanced, "auc": auc, "p_value": p_value,
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
                              "auc": float("nan"), "p_value": float("nan")}
                    note = str(exc)
                rows.append({"representation": rep, "task": task, "probe": name, "split": split,
                             **result, "note": note})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# What else a representation encodes: the speaker, and nuisance properties of the clip
# --------------------------------------------------------------------------------------------
#: Tasks of :func:`other_targets_table`: speaker identity (classification) and clip properties
#: decoded by ridge regression.
OTHER_TASKS = ("speaker", "duration", "level")


def speaker_labels(groups) -> np.ndarray:
    """Integer speaker labels (sorted speaker ids) for the speaker-identity probe."""
    return np.unique(np.asarray(groups), return_inverse=True)[1].astype(int)


#: Ridge penalties :func:`decode` chooses from, on each training fold by an inner
#: speaker-grouped cross-validation (:func:`ridge_predictions`).
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))


def ridge_predictions(X_train, y_train, X_test, *, alphas=RIDGE_ALPHAS) -> np.ndarray:
    """Predictions of ridge regressions (intercept unpenalised, as
    :class:`sklearn.linear_model.Ridge`) for every penalty in ``alphas`` at once, from one SVD
    of the centred training inputs.

    Returns
    -------
    np.ndarray [shape=(n_test, n_alphas)]
    """
    X_train, X_test = np.asarray(X_train, dtype=np.float64), np.asarray(X_test, dtype=np.float64)
    y_train = np.asarray(y_train, dtype=np.float64)
    alphas = np.asarray(alphas, dtype=np.float64)
    mean_x, mean_y = X_train.mean(axis=0), y_train.mean()
    U, sv, Vt = np.linalg.svd(X_train - mean_x, full_matrices=False)
    shrink = sv[None, :] / (sv[None, :] ** 2 + alphas[:, None])  # [n_alphas, rank]
    coefs = (shrink * (U.T @ (y_train - mean_y))[None, :]) @ Vt  # [n_alphas, n_dims]
    return mean_y + (X_test - mean_x) @ coefs.T


def _inner_alpha(X, y, groups, alphas) -> float:
    """The penalty of ``alphas`` with the smallest squared error over speaker-grouped inner folds
    (the largest penalty when there are fewer than 2 speakers)."""
    from sklearn.model_selection import GroupKFold

    k = min(4, np.unique(groups).size)
    if k < 2:
        return float(max(alphas))
    error = np.zeros(len(alphas))
    for train, test in GroupKFold(n_splits=k).split(X, y, groups):
        error += ((ridge_predictions(X[train], y[train], X[test], alphas=alphas) - y[test, None]) ** 2).sum(axis=0)
    return float(np.asarray(alphas)[np.argmin(error)])


def decode(X, target, groups, *, config: ProbeConfig, strata=None, seed: int | None = None
           ) -> dict[str, Any]:
    """Cross-validated R^2 of a ridge regression of ``target`` on ``X``, speakers kept apart.

    The nuisance decoding of Chapter 4: how well a linear read-out recovers a clip property
    (duration, level) that says nothing about the language. The folds are
    :func:`grouped_splits` (stratified by ``strata``, e.g. the language, default none), the
    inputs standardised on each training fold, and the target predicted by ridge regression
    (:func:`ridge_predictions`) with the penalty of :data:`RIDGE_ALPHAS` that predicts best in
    a speaker-grouped cross-validation inside the training fold (a leave-one-out choice would
    let it learn the speakers). R^2 is one minus the test clips' squared error over that of
    predicting the training fold's mean: 0 for a read-out no better than that mean (slightly
    below 0 for pure noise), 1 for a perfect one.

    Returns
    -------
    dict
        ``r2`` (mean over test folds), ``n_clips``, ``n_speakers``, ``n_splits``.
    """
    X, groups = np.asarray(X), np.asarray(groups)
    check(X.ndim == 2, f"X must be a 2-d array [n_clips, n_dims], got shape {X.shape}")
    check(np.all(np.isfinite(X)), "X contains NaN or infinite values", DataError)
    target = np.asarray(target, dtype=np.float64)
    for name, values in (("target", target), ("groups", groups)):
        check(values.shape == (len(X),), f"{name} must have one value per row of X ({len(X)}), got "
              f"shape {values.shape}")
    check(np.all(np.isfinite(target)), "target contains NaN or infinite values", DataError)
    strata = np.zeros(len(X), dtype=int) if strata is None else np.asarray(strata)
    seed = config.seed if seed is None else seed
    splits = grouped_splits(strata, groups, n_splits=config.n_splits, seed=seed)
    scores = []
    for X_train, X_test, train, test in _folds(X, splits, scale=True):
        alpha = _inner_alpha(X_train, target[train], groups[train], RIDGE_ALPHAS)
        residual = target[test] - ridge_predictions(X_train, target[train], X_test, alphas=[alpha])[:, 0]
        total = target[test] - target[train].mean()  # against the training fold's mean
        scores.append(1.0 - float(residual @ residual) / float(total @ total) if total.any() else np.nan)
    return {"r2": float(np.nanmean(scores)), "n_clips": int(len(X)),
            "n_speakers": int(np.unique(groups).size), "n_splits": len(splits)}


def other_targets_table(representations: Mapping[str, np.ndarray], locales, groups, *,
                        config: ProbeConfig, nuisance: Mapping[str, Any] | None = None,
                        seed: int | None = None) -> pd.DataFrame:
    """What else the representations encode, as rows in :func:`probe_table`'s layout.

    - task ``speaker``: which of the speakers reads the clip, the linear probe (class-weighted,
      one-vs-rest) with each speaker's clips on both sides of every split (``split="shared"``,
      folds stratified by speaker; a speaker-grouped split cannot test a speaker it has never
      seen). ``chance`` is ``1 / n_speakers``; AUC is the mean one-vs-rest AUC, chance 0.5.
    - tasks in ``nuisance`` (e.g. ``duration``, ``level``): :func:`decode`, ridge regression
      with speakers kept apart, folds stratified by language; column ``r2``.

    Unlike the control task of :func:`probe_table` with speakers kept apart, which is at chance
    by construction (a held-out speaker's random label is independent of anything in training),
    both can come out anywhere between chance and perfect.

    Parameters
    ----------
    representations : mapping of name -> np.ndarray [shape=(n_clips, n_dims)]
    locales, groups : array-like [shape=(n_clips,)]
    nuisance : mapping of task name -> np.ndarray [shape=(n_clips,)], optional
    seed : int, optional
        Split seed (default ``config.seed``).

    Returns
    -------
    pd.DataFrame
        ``representation``, ``task``, ``probe`` (``linear_shared`` or ``ridge``), ``split``,
        ``accuracy``, ``balanced_accuracy``, ``auc``, ``chance``, ``n_classes`` (speaker rows),
        ``r2`` (nuisance rows), ``n_clips``, ``n_speakers``, ``n_splits``, ``note``.
    """
    seed = config.seed if seed is None else seed
    groups = np.asarray(groups)
    y_language, _ = task_labels(locales, task="3way")
    y_speaker = speaker_labels(groups)
    rows = []
    for rep, X in representations.items():
        result = probe(X, y_speaker, groups, config=config, split="shared", n_permutations=0, seed=seed)
        rows.append({"representation": rep, "task": "speaker", "probe": "linear_shared", "split": "shared",
                     **{k: v for k, v in result.items() if k not in ("p_value", "n_permutations")},
                     "note": ""})
        for task, target in (nuisance or {}).items():
            result = decode(X, target, groups, config=config, strata=y_language, seed=seed)
            rows.append({"representation": rep, "task": task, "probe": "ridge", "split": "grouped",
                         **result, "note": ""})
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
# The probe clips
# --------------------------------------------------------------------------------------------

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
# The clips and baselines of the probe experiments (langlab.lstm_probes, langlab.autoencoder)
# --------------------------------------------------------------------------------------------
#: ``condition`` of the baseline rows of both probe experiments: the same architecture with its
#: initial random weights, and no network at all (statistics of the input).
UNTRAINED = "untrained"
INPUT = "input"


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
