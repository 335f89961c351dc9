"""Faster Keras layers for the same functions: what makes Chapters 3 and 5 train quicker on a CPU.

Each layer computes exactly the function of the Keras layer (stack) it replaces, with the same
weights in the same layout, the same initial values and so the same parameter count; only the
order of floating-point additions differs. Measured against the layer stacks they replace by
``benchmarks/efficiency.py`` (issue 18); equivalence is tested in ``tests/test_layers.py``.

- :class:`RecurrentLSTM`: Keras' ``LSTM`` whose time loop runs as one XLA-compiled kernel
  forward and one backward (the input projection of all frames in one matrix product before
  the loop, the weight gradients in three after it), instead of Keras' generic loop of small
  TensorFlow operations (Chapter 3).
- :class:`FusedBatchNorm`: ``BatchNormalization`` through TensorFlow's fused kernel (one pass
  for the statistics and the normalisation) instead of a dozen element-wise operations.
- :class:`UpsampledConvTranspose`: ``UpSampling2D(2)`` followed by a stride-1 ``"same"``
  ``Conv2DTranspose`` with an odd kernel, computed on the small grid: one convolution with four
  times the output channels (one per position in each 2 x 2 block, their kernels sums of the
  original's taps) and ``depth_to_space``; the upsampled copy is never made (Chapter 5).
- :class:`FusedAdam`: Keras' ``Adam`` whose update is TensorFlow's fused ``ApplyAdam`` kernel.

This module imports Keras and TensorFlow; the model builders import it when they build, and
loading a stored model needs it imported first (it registers the layers with Keras).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

PACKAGE = "langlab"


# --------------------------------------------------------------------------------------------
# The LSTM (Chapter 3)
# --------------------------------------------------------------------------------------------
def _gates(a, units):
    return a[:, :units], a[:, units:2 * units], a[:, 2 * units:3 * units], a[:, 3 * units:]


@tf.function(jit_compile=True)
def _lstm_forward(xz, R, h0, c0):
    """The recurrence over ``xz = x @ K + b`` ``[time, batch, 4 units]`` (Keras' gate order
    i, f, c, o; sigmoid gates, tanh cell): hidden states, cell states and the gate activations."""
    T, U = tf.shape(xz)[0], tf.shape(R)[0]
    ta_h, ta_c, ta_g = (tf.TensorArray(xz.dtype, size=T) for _ in range(3))

    def body(t, h, c, ta_h, ta_c, ta_g):
        zi, zf, zg, zo = _gates(xz[t] + tf.matmul(h, R), U)
        i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return t + 1, h, c, ta_h.write(t, h), ta_c.write(t, c), ta_g.write(t, tf.concat([i, f, g, o], 1))

    _, _, _, ta_h, ta_c, ta_g = tf.while_loop(lambda t, *_: t < T, body, (0, h0, c0, ta_h, ta_c, ta_g))
    return ta_h.stack(), ta_c.stack(), ta_g.stack()


@tf.function(jit_compile=True)
def _lstm_backward(G, C, C_prev, R, dH, dh, dc):
    """Back-propagation through time: the gradient of the gate pre-activations at every step,
    and those of the initial states."""
    T, U = tf.shape(G)[0], tf.shape(R)[0]
    ta_dz = tf.TensorArray(G.dtype, size=T)

    def body(t, dh, dc, ta_dz):
        i, f, g, o = _gates(G[t], U)
        tc = tf.tanh(C[t])
        dh = dh + dH[t]
        dc = dc + dh * o * (1 - tc * tc)
        dz = tf.concat([dc * g * i * (1 - i), dc * C_prev[t] * f * (1 - f), dc * i * (1 - g * g),
                        dh * tc * o * (1 - o)], 1)
        return t - 1, tf.matmul(dz, R, transpose_b=True), dc * f, ta_dz.write(t, dz)

    _, dh, dc, ta_dz = tf.while_loop(lambda t, *_: t >= 0, body, (T - 1, dh, dc, ta_dz))
    return ta_dz.stack(), dh, dc


@tf.custom_gradient
def _lstm(x, K, R, b, h0, c0):
    """LSTM over time-major ``x`` ``[time, batch, n_in]``: ``(all h, last h, last c)``."""
    xz = tf.einsum("tbd,dg->tbg", x, K) + b
    # The gradient is ``grad`` below: no tape may record the compiled loops themselves.
    H, C, G = _lstm_forward(*(tf.stop_gradient(v) for v in (xz, R, h0, c0)))

    def grad(dH, dh_last, dc_last):
        H_prev = tf.concat([h0[None], H[:-1]], 0)
        C_prev = tf.concat([c0[None], C[:-1]], 0)
        DZ, dh0, dc0 = _lstm_backward(*(tf.stop_gradient(v) for v in (G, C, C_prev, R, dH, dh_last, dc_last)))
        return (tf.einsum("tbg,dg->tbd", DZ, K), tf.einsum("tbd,tbg->dg", x, DZ),
                tf.einsum("tbu,tbg->ug", H_prev, DZ), tf.reduce_sum(DZ, [0, 1]), dh0, dc0)

    return (H, H[-1], C[-1]), grad


#: Largest state for which :class:`RecurrentLSTM` runs its compiled loop. Measured on a 2-core
#: CPU, one thread (``benchmarks/efficiency.py``): 1.3x to 2x Keras' loop at 64 units (the book),
#: 0.85x to 1.0x at 250 (the paper: each step's matrix product is large enough that Keras'
#: per-operation overhead no longer matters, and XLA's product is slower than oneDNN's). Where
#: between the two the break-even lies was not measured.
COMPILED_MAX_UNITS = 128


@keras.saving.register_keras_serializable(package=PACKAGE)
class RecurrentLSTM(layers.LSTM):
    """``keras.layers.LSTM`` with its time loop compiled by XLA (forward and backward).

    Same constructor, weights and outputs as ``LSTM``. The compiled loop serves the default
    configuration (sigmoid and tanh, a bias, no mask, no dropout, forwards) on a CPU, up to
    :data:`COMPILED_MAX_UNITS` units; anything else, and any computer with a GPU (where Keras
    runs cuDNN's LSTM), takes Keras' own path.
    """

    def _fast(self, mask) -> bool:
        cell = self.cell
        return (mask is None and cell.units <= COMPILED_MAX_UNITS
                and not tf.config.list_logical_devices("GPU") and not self.go_backwards and cell.use_bias
                and not cell.dropout and not cell.recurrent_dropout
                and cell.activation is keras.activations.tanh
                and cell.recurrent_activation is keras.activations.sigmoid)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fast(mask):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell
        K, R, b = (tf.convert_to_tensor(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
        H, h, c = _lstm(tf.transpose(sequences, (1, 0, 2)), K, R, b, initial_state[0], initial_state[1])
        return h, tf.transpose(H, (1, 0, 2)), [h, c]


# --------------------------------------------------------------------------------------------
# The autoencoder (Chapter 5)
# --------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBatchNorm(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` over the last axis of a 4-d input, through
    TensorFlow's fused kernel. In training the batch variance normalises and updates the moving
    variance, as in Keras (the kernel returns it with Bessel's correction, which is undone)."""

    def call(self, inputs, training=None, mask=None):
        if len(inputs.shape) != 4 or self.axis not in (-1, 3) or not (self.center and self.scale):
            return super().call(inputs, training=training, mask=mask)
        gamma, beta = self.gamma.value, self.beta.value
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, epsilon=self.epsilon, is_training=True)
            n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), inputs.dtype)
            variance = variance * (n - 1) / tf.maximum(n, 1)
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum
                                        + variance * (1 - self.momentum))
            return y
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, mean=self.moving_mean.value, variance=self.moving_variance.value,
            epsilon=self.epsilon, is_training=False)
        return y


def upsampled_taps(kernel_size: int) -> np.ndarray:
    """``M[phase, j, a]``: 1 where tap ``a`` of a ``"same"`` convolution with an odd
    ``kernel_size`` on a 2x nearest-upsampled signal reads sample ``j`` (of a window of the
    same odd width, centred) of the original signal, for the output at ``2 i + phase``."""
    k = int(kernel_size)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    r = (k - 1) // 2
    half = -(-r // 2)
    M = np.zeros((2, 2 * half + 1, k), dtype=np.float32)
    for phase in (0, 1):
        for a in range(k):
            M[phase, (phase + a - r) // 2 + half, a] = 1
    return M


@keras.saving.register_keras_serializable(package=PACKAGE)
class UpsampledConvTranspose(layers.Conv2DTranspose):
    """``UpSampling2D(2)`` (nearest) then ``Conv2DTranspose(filters, kernel_size,
    padding="same")`` (stride 1, odd kernel), in one layer with the latter's weights.

    A stride-1 transposed convolution is the convolution with the spatially flipped kernel;
    on a nearest-upsampled input, each of the four outputs of a 2 x 2 block is a convolution of
    the small input whose taps are sums of the kernel's. Their four kernels make one
    convolution with ``4 * filters`` outputs; ``depth_to_space`` lays them out.
    """

    def build(self, input_shape):
        if self.strides != (1, 1) or self.padding != "same" or self.dilation_rate != (1, 1) \
                or any(k % 2 == 0 for k in self.kernel_size) or self.data_format != "channels_last":
            raise ValueError(f"{type(self).__name__} needs stride 1, 'same' padding, odd kernels "
                             f"and channels_last; got {self.get_config()}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, self.filters)

    def call(self, inputs):
        kh, kw = self.kernel_size
        kernel = tf.reverse(tf.transpose(self.kernel.value, (0, 1, 3, 2)), [0, 1])  # [kh, kw, in, out]
        phases = tf.einsum("pak,qbl,klio->abipqo", upsampled_taps(kh), upsampled_taps(kw), kernel)
        shape = tf.shape(phases)
        phases = tf.reshape(phases, (shape[0], shape[1], shape[2], 4 * self.filters))
        y = tf.nn.depth_to_space(tf.nn.conv2d(inputs, phases, 1, "SAME"), 2)
        if self.use_bias:
            y = tf.nn.bias_add(y, self.bias.value)
        return self.activation(y) if self.activation is not None else y


# --------------------------------------------------------------------------------------------
# The optimizer
# --------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (without AMSGrad) through TensorFlow's fused ``ApplyAdam``:
    the same update, ``m`` and ``v`` moving averages and bias-corrected step, in one kernel
    instead of about a dozen passes over every weight array."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype), epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype))
