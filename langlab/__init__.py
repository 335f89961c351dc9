"""langlab: the package behind the book "What a network hears first".

One idea a module (the README's "Layout" shows how data flows through them):

Pipeline stages:

- :mod:`langlab.synth`    the embedded, eSpeak NG-generated multilingual corpus (Chapter 1)
- :mod:`langlab.corpus`   Common Voice reader, clip checks, speaker-disjoint splits (Chapter 1)
- :mod:`langlab.rhythm`   the corpus's rhythm: %V, deltaC, Varco, PVI from eSpeak NG's phoneme
  events, beside published values (Chapter 1)
- :mod:`langlab.audio`    decoding and fixed-length clips (Chapters 1-2)
- :mod:`langlab.dsp`      low-pass, STFT, mel, dB, silence rule, scaling: array steps (Chapter 2)
- :mod:`langlab.features` feature configs and feature sets (Chapter 2);
  :mod:`langlab.feature_store` their sharded, resumable computation
- :mod:`langlab.pretraining` the pre-training conditions, a registry (Chapters 3, 5)
- :mod:`langlab.models`   Keras next-frame LSTM and its state view, warm models (Chapters 3, 4)
- :mod:`langlab.layers`   compiled LSTM loop, fused batch norm and Adam, upsampled transposed
  convolution: the same functions, faster on a CPU (Chapters 3, 5); :mod:`langlab.flops` their
  FLOPs a step (Real-data appendix)
- :mod:`langlab.runs`     one runner for (model, condition, seed) units (Chapters 3-5)
- :mod:`langlab.training` the LSTM protocol: segments, baselines, time to threshold (Chapter 3)
- :mod:`langlab.learning_speed` time to threshold over seeds, the claim's tests (Chapter 3)
- :mod:`langlab.similarity` how close the low-passed pre-training languages are (Chapter 3)
- :mod:`langlab.representations` mel statistics and the LSTM's final states (Chapter 4)
- :mod:`langlab.probing`  linear probes, baselines, controls, statistics (Chapters 4, 5)
- :mod:`langlab.svm`      many linear SVMs at once, for the permutation tests (Chapter 4)
- :mod:`langlab.lstm_probes` the LSTM's states probed, every condition and seed (Chapter 4)
- :mod:`langlab.embedding` PCA/t-SNE pictures and neighbour shares (Chapters 4, 5)
- :mod:`langlab.autoencoder` the convolutional autoencoder, trained and probed (Chapter 5)
- :mod:`langlab.paired`   paired differences over seeds: interval, exact sign-flip test, smallest
  detectable effect (Chapter 6)
- :mod:`langlab.plan`     the analysis plan: endpoints, levels, families, effects of interest
  (Reproducibility appendix)
- :mod:`langlab.verdicts` the stated rules that turn results into verdicts (Chapter 6);
  :mod:`langlab.claims` the plan's claims judged on the chapters' results (Chapter 6)

Around them:

- :mod:`langlab.experiment` ``langlab run``: every stage, resumable; :mod:`langlab.run_output`
  its folder, :mod:`langlab.run_figures` its figures
- :mod:`langlab.cli`      the ``langlab`` command; :mod:`langlab.quiet` library noise kept off
  it unless ``--verbose``
- :mod:`langlab.store`    content-addressed, atomic, self-checking artifact store;
  :mod:`langlab.codeversion` the code part of its keys (Reproducibility appendix)
- :mod:`langlab.presets`  the ``smoke``, ``book`` and ``paper`` presets
- :mod:`langlab.environment` the locked environment beside the running one (Reproducibility appendix)
- :mod:`langlab.errors`   the errors and the one validation convention of every config
- :mod:`langlab.stats`    confidence intervals over seeds
- :mod:`langlab.book`     what chapters repeat: glue a dict, labels and palette, "mean [low, high]"
- :mod:`langlab.buildcheck`, :mod:`langlab.gluediff` checks on a built book

Importing :mod:`langlab` is cheap: TensorFlow loads only when a model is built.
"""
__version__ = "0.1.0"

from langlab.errors import DataError, LanglabError, ParameterError  # noqa: E402

__all__ = ["__version__", "LanglabError", "ParameterError", "DataError"]
