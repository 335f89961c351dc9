"""Chapter 4's experiment on the smoke preset (trains one tiny LSTM): every unit probed once,
reused from the store, its states the LSTM's final states of the balanced probe clips."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from langlab import lstm_probes, probing, representations


@pytest.mark.slow
def test_lstm_probe_experiment_smoke(smoke_store):
    from langlab import training
    from langlab.presets import get_preset

    preset = get_preset("smoke")
    results = lstm_probes.lstm_probe_experiment(preset, conditions=["none"], seeds=[0],
                                            store=smoke_store)
    assert set(results["condition"]) == {"none", probing.UNTRAINED, probing.INPUT}
    assert set(results["representation"]) == {"h", "c", "h_pooled", "mel_stats"}
    assert set(results["task"]) == set(probing.TASKS)
    tested = results[results["p_value"].notna()]
    assert set(tested["representation"]) == {"h", "c", "h_pooled", "mel_stats"}
    assert set(tested["probe"]) == {"linear"} and set(tested["task"]) == {"binary"}
    ok = results[results["note"] == ""]
    assert ok["balanced_accuracy"].between(0, 1).all()
    assert (ok["n_frames"] == lstm_probes.state_frames(preset, preset.features.n_frames)).all()
    # a second call finds every unit in the store and writes nothing (no entry new or rewritten)
    def written():
        return {m.parent.name: m.stat().st_mtime_ns
                for m in (smoke_store.root / lstm_probes.STAGE).glob("*/manifest.json")}

    before = written()
    again = lstm_probes.lstm_probe_experiment(preset, conditions=["none"], seeds=[0],
                                          store=smoke_store)
    assert written() == before
    pd.testing.assert_frame_equal(results, again)
    # the stored states are the LSTM's final states of the balanced probe clips
    states, clips = lstm_probes.probe_states(preset, condition="none", seed=0, store=smoke_store)
    fs, keep = probing.probe_clips(preset, store=smoke_store)
    assert clips["locale"].value_counts().nunique() == 1  # balanced
    model = training.load_lstm(preset, condition="none", seed=0, store=smoke_store)
    expected = representations.lstm_states(model, fs.scaled()[keep], pooled=True,
                                           n_frames=lstm_probes.state_frames(preset, fs.config.n_frames))
    for name in ("h", "c", "h_pooled"):
        np.testing.assert_allclose(states[name], expected[name], atol=1e-6)
    assert states["h"].shape == (len(clips), preset.lstm.units)


def test_state_frames_default_to_the_training_window():
    from langlab.presets import get_preset

    preset = get_preset("book")
    window = preset.lstm.window - preset.lstm.shift
    assert lstm_probes.state_frames(preset, 1000) == window
    assert lstm_probes.state_frames(preset, 10) == 10
    fixed = preset.replace(probing=probing.ProbeConfig(n_frames=7))
    assert lstm_probes.state_frames(fixed, 1000) == 7
