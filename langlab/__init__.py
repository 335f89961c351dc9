"""langlab: the package behind the book "Does what a network hears first change how it learns a language?".

One module per pipeline stage (see the book's Introduction for the map):

- :mod:`langlab.synth`    the embedded, eSpeak NG-generated multilingual corpus (Chapter 1)
- :mod:`langlab.corpus`   Common Voice reader, clip checks, speaker-disjoint splits (Chapter 1)
- :mod:`langlab.audio`    decoding and fixed-length clips (Chapters 1-2)
- :mod:`langlab.features` low-pass, mel spectrograms, silence rule, feature store (Chapter 2)
- :mod:`langlab.models`   Keras next-frame LSTM and convolutional autoencoder (Chapters 3, 5)
- :mod:`langlab.training` pre-training protocol, time to threshold, seeds (Chapters 3, 5)
- :mod:`langlab.probing`  latent states, linear probes, baselines, statistics (Chapters 4, 5)
- :mod:`langlab.store`    content-addressed, atomic, self-checking artifact store (Reproducibility appendix)
- :mod:`langlab.environment` the locked environment beside the running one (Reproducibility appendix)
- :mod:`langlab.presets`  the ``smoke``, ``book`` and ``paper`` presets
- :mod:`langlab.cli`      the ``langlab`` command
- :mod:`langlab.quiet`    library noise kept off the command line unless ``--verbose``

Importing :mod:`langlab` is cheap: TensorFlow loads only when a model is built.
"""
__version__ = "0.1.0"

from langlab.errors import DataError, LanglabError, ParameterError  # noqa: E402

__all__ = ["__version__", "LanglabError", "ParameterError", "DataError"]
