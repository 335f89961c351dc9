"""Synthetic representations whose answer is known, shared by the probing, SVM and embedding
tests (test_probing.py, test_svm.py, test_embedding.py): a "language" direction plus speaker
offsets plus noise."""
import numpy as np

LOCALES = ("es", "it", "ja")


def synthetic(*, n_speakers=8, n_clips=10, n_dims=32, language=1.0, speaker=1.0, seed=0):
    """Representations of 3 languages x ``n_speakers`` speakers x ``n_clips`` clips."""
    rng = np.random.default_rng(seed)
    locales = np.repeat(LOCALES, n_speakers * n_clips)
    groups = np.array([f"{loc}-{i // n_clips}" for loc in LOCALES
                       for i in range(n_speakers * n_clips)])
    lang = {loc: rng.normal(size=n_dims) for loc in LOCALES}
    spk = {g: rng.normal(size=n_dims) for g in np.unique(groups)}
    X = np.stack([language * lang[loc] + speaker * spk[g]
                  for loc, g in zip(locales, groups)]) + rng.normal(size=(len(groups), n_dims))
    return X.astype(np.float32), locales, groups


def multilingual(*, n_speakers=8, n_clips=4, n_dims=24, language=1.0, seed=0):
    """Like the embedded corpus: every speaker speaks every language."""
    rng = np.random.default_rng(seed)
    locales = np.tile(np.repeat(LOCALES, n_clips), n_speakers)
    groups = np.repeat([f"spk{i}" for i in range(n_speakers)], 3 * n_clips)
    lang = {loc: rng.normal(size=n_dims) for loc in LOCALES}
    spk = {g: rng.normal(size=n_dims) for g in np.unique(groups)}
    X = np.stack([language * lang[loc] + spk[g] for loc, g in zip(locales, groups)])
    return X + rng.normal(size=X.shape), locales, groups
