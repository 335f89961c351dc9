"""Floating-point operations of a training step of both models, counted from their layer shapes.

How close does training come to what this computer can do? The efficiency benchmark
(``benchmarks/efficiency.py``, the Real-data appendix) divides these counts by a step's time and
sets the result beside the machine's matrix-multiply rate.

The counting convention:

- a multiply-add is 2 FLOPs; only the matrix multiplications and convolutions are counted
  (activations, batch normalisation, pooling, the loss and Adam's update touch each number a few
  times, not ``fan-in`` times, and are left out);
- a convolution with a ``k x k`` kernel, ``c_in`` input and ``c_out`` output channels on an
  ``H x W`` output costs ``2 H W k^2 c_in c_out`` forward, transposed or not: the function as
  the layer stack defines it, whatever an implementation does to compute it;
- the backward pass of a layer costs twice its forward pass (the gradient with respect to its
  weights and the one with respect to its input), except that nothing needs the input gradient
  of the first layer, whose input is data.

- :func:`lstm_layers`, :func:`autoencoder_layers`: per-layer forward and backward counts of one
  training step.
- :func:`step_flops`: their sum.
- :func:`gemm_flops`: the count of an ``n x n`` by ``n x n`` matrix product, the yardstick.
"""
from __future__ import annotations

from collections.abc import Sequence

from langlab.errors import check


def _positive(**values: int) -> None:
    for name, value in values.items():
        check(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
              f"{name} must be a positive integer, got {value!r}")


def _row(layer: str, forward: int, *, first: bool = False) -> dict[str, int | str]:
    return {"layer": layer, "forward": int(forward), "backward": int(forward if first else 2 * forward)}


def gemm_flops(n: int) -> int:
    """``2 n^3``: FLOPs of the product of two ``n x n`` matrices."""
    _positive(n=n)
    return 2 * n ** 3


def lstm_layers(*, n_mels: int, units: int, time_steps: int, batch: int) -> list[dict]:
    """FLOPs of one training step of the next-frame LSTM (Chapter 3), per layer.

    Parameters
    ----------
    n_mels : int
        Input and output frame size ``D``.
    units : int
        LSTM state size ``U``.
    time_steps : int
        Input frames per sequence ``T`` (a segment's ``window - shift``).
    batch : int
        Sequences per step ``B``.

    Returns
    -------
    list of dict
        ``layer``, ``forward``, ``backward``: the LSTM's input projection (``2 B T D 4U``; the
        first layer, so no input gradient), its recurrent projection (``2 B T U 4U``) and the
        per-frame Dense output (``2 B T U D``).
    """
    _positive(n_mels=n_mels, units=units, time_steps=time_steps, batch=batch)
    frames = batch * time_steps
    return [_row("lstm input kernel", 2 * frames * n_mels * 4 * units, first=True),
            _row("lstm recurrent kernel", 2 * frames * units * 4 * units),
            _row("next_frame dense", 2 * frames * units * n_mels)]


def autoencoder_layers(*, n_mels: int, n_frames: int, filters: Sequence[int], kernel_size: int,
                       latent_dim: int, batch: int) -> list[dict]:
    """FLOPs of one training step of the convolutional autoencoder (Chapter 5), per layer.

    The convolutions run on the padded spectrogram (:func:`langlab.autoencoder.padded_shape`)
    and on its halves and quarters after each pooling; the decoder mirrors the encoder.

    Parameters
    ----------
    n_mels, n_frames : int
        Spectrogram size before padding.
    filters : sequence of 3 int
        Encoder channels ``f1, f2, f3``.
    kernel_size : int
        ``k`` of every ``k x k`` convolution.
    latent_dim : int
        Length of the latent code.
    batch : int
        Clips per step.

    Returns
    -------
    list of dict
        ``layer``, ``forward``, ``backward`` for the eight weight layers, encoder first.
    """
    from langlab.autoencoder import padded_shape

    check(len(filters) == 3, f"filters must be three channel counts, got {filters!r}")
    f1, f2, f3 = (int(f) for f in filters)
    _positive(n_mels=n_mels, n_frames=n_frames, f1=f1, f2=f2, f3=f3, kernel_size=kernel_size,
              latent_dim=latent_dim, batch=batch)
    h, w = padded_shape(n_mels, n_frames)
    full, half, quarter = batch * h * w, batch * (h // 2) * (w // 2), batch * (h // 4) * (w // 4)
    k2 = kernel_size ** 2
    return [_row("enc1_conv", 2 * full * k2 * 1 * f1, first=True),
            _row("enc2_conv", 2 * half * k2 * f1 * f2),
            _row("enc3_conv", 2 * quarter * k2 * f2 * f3),
            _row("latent", 2 * quarter * f3 * latent_dim),
            _row("expand", 2 * latent_dim * quarter * f3),
            _row("dec1_conv", 2 * quarter * k2 * f3 * f2),
            _row("dec2_conv", 2 * half * k2 * f2 * f1),
            _row("out_conv", 2 * full * k2 * f1 * 1)]


def step_flops(layers: Sequence[dict]) -> int:
    """Forward plus backward FLOPs of a step: the sum over the rows of :func:`lstm_layers` or
    :func:`autoencoder_layers`."""
    return int(sum(row["forward"] + row["backward"] for row in layers))
