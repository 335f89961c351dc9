"""langlab: the package behind the book "Does what a network hears first change how it learns a language?".

One module per pipeline stage (see the book's Introduction for the map):

- :mod:`langlab.synth`    the embedded, eSpeak NG-generated multilingual corpus (Chapter 1)
- :mod:`langlab.corpus`   Common Voice reader, clip checks, speaker-disjoint splits (Chapter 1)
- :mod:`langlab.audio`    decoding and fixed-length clips (Chapters 1-2)
- :mod:`langlab.features` low-pass, mel spectrograms, silence rule, feature store (Chapter 2)
- :mod:`langlab.models`   Keras next-frame LSTM and convolutional autoencoder (Chapters 3, 5)
- :mod:`langlab.training` pre-training protocol, time to threshold, seeds (Chapters 3, 5)
- :mod:`langlab.probing`  linear probes, baselines, controls, statistics (Chapters 4, 5)
- :mod:`langlab.svm`      many linear SVMs at once, for the permutation tests (Chapter 4)
- :mod:`langlab.representations` mel statistics and the LSTM's final states (Chapter 4)
- :mod:`langlab.embedding` PCA/t-SNE pictures and neighbour shares (Chapters 4, 5)
- :mod:`langlab.store`    content-addressed, atomic artifact store (Reproducibility appendix)
- :mod:`langlab.presets`  the ``smoke``, ``book`` and ``paper`` presets
- :mod:`langlab.cli`      the ``langlab`` command

Importing :mod:`langlab` is cheap: TensorFlow loads only when a model is built.
"""
__version__ = "0.1.0"

from langlab.errors import DataError, LanglabError, ParameterError  # noqa: E402

__all__ = ["__version__", "LanglabError", "ParameterError", "DataError"]
