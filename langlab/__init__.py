"""langlab: the package behind the book "Does what a network hears first change how it learns a language?".

One module per pipeline stage (see the book's Introduction for the map):

- :mod:`langlab.synth`    the embedded, eSpeak NG-generated multilingual corpus (Chapter 1)
- :mod:`langlab.corpus`   Common Voice reader, clip checks, speaker-disjoint splits (Chapter 1)
- :mod:`langlab.audio`    decoding and fixed-length clips (Chapters 1-2)
- :mod:`langlab.features` low-pass, mel spectrograms, silence rule, feature store (Chapter 2)
- :mod:`langlab.models`   Keras next-frame LSTM and its state view, warm models (Chapters 3, 4)
- :mod:`langlab.pretraining` the pre-training conditions, a registry (Chapters 3, 5)
- :mod:`langlab.runs`     one runner for (model, condition, seed) units (Chapters 3-5)
- :mod:`langlab.training` the LSTM protocol: segments, baselines, time to threshold (Chapter 3)
- :mod:`langlab.learning_speed` time to threshold over seeds, the claim's tests (Chapter 3)
- :mod:`langlab.probing`  linear probes, baselines, controls, statistics (Chapters 4, 5)
- :mod:`langlab.lstm_probes` the LSTM's states probed, every condition and seed (Chapter 4)
- :mod:`langlab.svm`      many linear SVMs at once, for the permutation tests (Chapter 4)
- :mod:`langlab.representations` mel statistics and the LSTM's final states (Chapter 4)
- :mod:`langlab.embedding` PCA/t-SNE pictures and neighbour shares (Chapters 4, 5)
- :mod:`langlab.autoencoder` the convolutional autoencoder, trained and probed (Chapter 5)
- :mod:`langlab.experiment` ``langlab run``: every stage, resumable; :mod:`langlab.run_output` its folder
- :mod:`langlab.store`    content-addressed, atomic artifact store (Reproducibility appendix)
- :mod:`langlab.presets`  the ``smoke``, ``book`` and ``paper`` presets
- :mod:`langlab.cli`      the ``langlab`` command

Importing :mod:`langlab` is cheap: TensorFlow loads only when a model is built.
"""
__version__ = "0.1.0"

from langlab.errors import DataError, LanglabError, ParameterError  # noqa: E402

__all__ = ["__version__", "LanglabError", "ParameterError", "DataError"]
