"""2-d embeddings, their pictures and neighbour shares of langlab.embedding (Chapters 4, 5)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from langlab import embedding
from langlab.errors import ParameterError
from probe_data import multilingual, synthetic


def test_neighbour_share_chance_is_the_share_of_random_neighbours():
    # 2 of each of two labels: a clip's other clips hold 1 of its own label out of 3.
    assert embedding.neighbour_share_chance(["a", "a", "b", "b"]) == pytest.approx(1 / 3)
    assert embedding.neighbour_share_chance(["a", "a", "a"]) == 1.0
    with pytest.raises(ParameterError, match="at least 2"):
        embedding.neighbour_share_chance(["a"])


def test_neighbour_share():
    X, locales, groups = multilingual(n_speakers=6, n_clips=5, language=4.0)
    by_language = embedding.neighbour_share(X, locales, k=5)
    by_speaker = embedding.neighbour_share(X, groups, k=5)
    assert by_language > 0.9 and by_speaker < by_language
    noise = np.random.default_rng(1).normal(size=X.shape)
    assert embedding.neighbour_share(noise, locales, k=10) == pytest.approx(1 / 3, abs=0.1)
    twice = np.vstack([X, X])  # duplicates: a clip never counts as its own neighbour
    assert embedding.neighbour_share(twice, np.arange(len(twice)), k=1) == 0.0
    with pytest.raises(ParameterError, match="k must be"):
        embedding.neighbour_share(X, locales, k=len(X))
    with pytest.raises(ParameterError, match="labels must have one entry"):
        embedding.neighbour_share(X, locales[:-1])


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embeddings(method):
    X, locales, _ = synthetic(n_speakers=3, n_clips=5)
    Z = embedding.embed_2d(X, method=method, seed=0, perplexity=10)
    assert Z.shape == (len(X), 2) and np.all(np.isfinite(Z))
    np.testing.assert_array_equal(Z, embedding.embed_2d(X, method=method, seed=0, perplexity=10))
    with pytest.raises(ParameterError, match="method"):
        embedding.embed_2d(X, method="umap")


def test_plot_embeddings():
    import matplotlib.pyplot as plt

    X, locales, _ = synthetic(n_speakers=3, n_clips=5)
    reps = {"h": X, "c": X[:, ::-1]}
    fig = embedding.plot_embeddings(reps, locales, perplexity=10)
    assert len(fig.axes) == 4
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == ["PC 1", "t-SNE 1"]
    plt.close(fig)
    embedded = embedding.embed_all(reps, perplexity=10)
    assert set(embedded) == {("h", "pca"), ("h", "tsne"), ("c", "pca"), ("c", "tsne")}
    fig = embedding.plot_embeddings(reps, np.arange(len(X)) % 5, embedded=embedded)
    assert len(fig.axes) == 4
    plt.close(fig)


def test_plot_embeddings_takes_the_books_colours():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    X, locales, _ = synthetic(n_speakers=3, n_clips=5)
    names = sorted(set(np.asarray(locales, dtype=str)))
    colours = {names[0]: "#0072B2"}  # one label coloured by the caller, the rest by default
    fig = embedding.plot_embeddings({"h": X}, locales, methods=("pca",), colours=colours)
    points = [c for c in fig.axes[0].collections if c.get_label() == names[0]]
    assert len(points) == 1
    assert mcolors.to_hex(points[0].get_facecolor()[0]) == "#0072b2"
    others = [c for c in fig.axes[0].collections if c.get_label() in names[1:]]
    assert others and all(mcolors.to_hex(c.get_facecolor()[0]) != "#0072b2" for c in others)
    plt.close(fig)
