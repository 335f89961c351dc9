"""FLOP counts of a training step, against counts done by hand for tiny shapes."""
from __future__ import annotations

import pytest

from langlab import flops
from langlab.errors import ParameterError


def test_gemm():
    assert flops.gemm_flops(3) == 54  # 9 outputs x 3 multiply-adds x 2
    assert flops.gemm_flops(2048) == 17_179_869_184


def test_lstm_by_hand():
    # D=2 mels, U=3 units, T=4 steps, B=5 sequences: 20 frames.
    rows = flops.lstm_layers(n_mels=2, units=3, time_steps=4, batch=5)
    by_layer = {r["layer"]: (r["forward"], r["backward"]) for r in rows}
    # input kernel: 20 frames x (2 x 12) multiply-adds x 2 = 960; weights' gradient only (first layer)
    assert by_layer["lstm input kernel"] == (960, 960)
    # recurrent kernel: 20 x (3 x 12) x 2 = 1440; gradients for the weights and for h: 2 x 1440
    assert by_layer["lstm recurrent kernel"] == (1440, 2880)
    # dense: 20 x (3 x 2) x 2 = 240; weights and input: 480
    assert by_layer["next_frame dense"] == (240, 480)
    assert flops.step_flops(rows) == 960 + 960 + 1440 + 2880 + 240 + 480


def test_autoencoder_by_hand():
    # 5 x 7 pads to 8 x 8; halves 4 x 4, quarters 2 x 2; filters 2, 3, 4; k = 3; latent 6; batch 2.
    rows = flops.autoencoder_layers(n_mels=5, n_frames=7, filters=(2, 3, 4), kernel_size=3,
                                    latent_dim=6, batch=2)
    forward = {r["layer"]: r["forward"] for r in rows}
    assert forward == {
        "enc1_conv": 2 * (2 * 64) * 9 * 1 * 2,   # 4608
        "enc2_conv": 2 * (2 * 16) * 9 * 2 * 3,   # 3456
        "enc3_conv": 2 * (2 * 4) * 9 * 3 * 4,    # 1728
        "latent": 2 * 2 * (2 * 2 * 4) * 6,       # 384
        "expand": 2 * 2 * 6 * (2 * 2 * 4),       # 384
        "dec1_conv": 2 * (2 * 4) * 9 * 4 * 3,    # 1728
        "dec2_conv": 2 * (2 * 16) * 9 * 3 * 2,   # 3456
        "out_conv": 2 * (2 * 64) * 9 * 2 * 1,    # 4608
    }
    backward = {r["layer"]: r["backward"] for r in rows}
    assert backward["enc1_conv"] == 4608  # data input: no input gradient
    assert all(backward[name] == 2 * forward[name] for name in forward if name != "enc1_conv")
    assert flops.step_flops(rows) == 20352 + 36096


def test_paper_autoencoder_is_about_1_75_gflop_per_clip():
    rows = flops.autoencoder_layers(n_mels=128, n_frames=216, filters=(32, 64, 4), kernel_size=3,
                                    latent_dim=1000, batch=1)
    assert flops.step_flops(rows) == pytest.approx(1.74e9, rel=0.01)


def test_counts_follow_the_built_models_weight_shapes():
    """Every counted layer has the kernel the models have: the count of a conv/dense layer is
    2 x output positions x kernel size (forward), summed over the model's kernels."""
    import numpy as np

    from langlab import autoencoder, models

    ae = autoencoder.build_autoencoder(n_mels=5, n_frames=7, filters=(2, 3, 4), latent_dim=6, seed=0)
    kernels = sorted(int(np.prod(w.shape)) for w in ae.trainable_weights if len(w.shape) in (2, 4))
    # enc1 1*2, enc2 2*3, enc3 3*4, dec1 4*3, dec2 3*2, out 2*1 (times 9), latent and expand 16*6
    assert kernels == sorted([18, 54, 108, 108, 54, 18, 96, 96])
    lstm = models.build_next_frame_lstm(n_mels=2, units=3, seed=0)
    shapes = sorted(tuple(w.shape) for w in lstm.trainable_weights if len(w.shape) == 2)
    assert shapes == [(2, 12), (3, 2), (3, 12)]


@pytest.mark.parametrize("kwargs, match", [
    ({"n_mels": 0, "units": 3, "time_steps": 4, "batch": 5}, "n_mels"),
    ({"n_mels": 2, "units": 3, "time_steps": 4, "batch": 2.5}, "batch"),
])
def test_bad_sizes(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        flops.lstm_layers(**kwargs)


def test_autoencoder_needs_three_filters():
    with pytest.raises(ParameterError, match="filters"):
        flops.autoencoder_layers(n_mels=5, n_frames=7, filters=(2, 3), kernel_size=3, latent_dim=6,
                                 batch=1)
