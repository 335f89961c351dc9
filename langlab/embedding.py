"""Pictures of representations and how they group clips (Chapters 4 and 5).

- :func:`embed_2d` and :func:`embed_all`: PCA or t-SNE of standardised representations;
- :func:`plot_embeddings`: their scatter plots, coloured by language or speaker;
- :func:`neighbour_share` and :func:`neighbour_share_chance`: what a t-SNE picture shows by
  eye, counted in all dimensions, and its value for a representation blind to the labels.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from langlab.errors import ParameterError, check


def embed_2d(X, *, method: str = "pca", seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-d embedding of standardised ``X`` by PCA or t-SNE (van der Maaten and Hinton 2008),
    for the pictures of Chapters 4 and 5.

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
                    max_legend: int = 12, embedded: Mapping | None = None,
                    colours: Mapping[str, Any] | None = None):
    """Scatter plots of 2-d embeddings: one row per representation, one column per method,
    points coloured by ``labels`` (a language or a speaker per clip).

    ``embedded`` (from :func:`embed_all`) reuses embeddings computed before, so that the same
    picture can be coloured twice without running t-SNE again. ``colours`` maps label names to
    colours (the book's palette, :func:`langlab.book.palette`); unlisted labels take matplotlib's
    tab10/tab20 colours. Returns the matplotlib figure.
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
                colour = (colours or {}).get(name, cmap(k % cmap.N))
                ax.scatter(Z[m, 0], Z[m, 1], s=9, alpha=0.75, color=colour,
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
