"""Rhythm metrics: hand-computed interval sequences, and eSpeak NG's real phoneme events."""
import numpy as np
import pandas as pd
import pytest

from langlab import rhythm, synth
from langlab.errors import ParameterError
from langlab.store import Store

# A leading pause (dropped), two consonants that merge, a zero-length mark, two vowels that
# merge, a pause that starts a second stretch, and a trailing pause (dropped).
EVENTS = pd.DataFrame(
    [("pause", 0.30), ("C", 0.04), ("C", 0.06), ("V", 0.05), ("none", 0.0), ("C", 0.20),
     ("V", 0.10), ("V", 0.05), ("pause", 0.25), ("pause", 0.05), ("C", 0.10), ("V", 0.05),
     ("pause", 0.40)],
    columns=["kind", "duration"])


def test_intervals_merge_classes_and_split_at_pauses():
    table = rhythm.intervals(EVENTS)
    assert table["kind"].tolist() == ["C", "V", "C", "V", "C", "V"]
    np.testing.assert_allclose(table["duration"], [0.10, 0.05, 0.20, 0.15, 0.10, 0.05])
    assert table["stretch"].tolist() == [0, 0, 0, 0, 1, 1]


def test_metrics_match_hand_computation():
    m = rhythm.metrics(rhythm.intervals(EVENTS))
    # V = .05 + .15 + .05 = .25 s, C = .10 + .20 + .10 = .40 s
    assert m["percent_v"] == pytest.approx(100 * 0.25 / 0.65)
    # C: mean 2/15 s, deviations (-1/30, 2/30, -1/30): sample SD sqrt(6/900 / 2) s
    sd_c = np.sqrt((1 + 4 + 1) / 900 / 2)
    assert m["delta_c"] == pytest.approx(100 * sd_c)          # in cs: 5.77
    assert m["delta_v"] == pytest.approx(100 * sd_c)          # V: (.05, .15, .05), the same deviations
    assert m["varco_c"] == pytest.approx(100 * sd_c / (0.40 / 3))      # 43.3
    assert m["varco_v"] == pytest.approx(100 * sd_c / (0.25 / 3))      # 69.3
    # pairs only within a stretch: V (.05, .15) -> |.10| / .10 = 1; C (.10, .20) -> 100 ms
    assert m["npvi_v"] == pytest.approx(100.0)
    assert m["rpvi_c"] == pytest.approx(100.0)
    assert (m["n_v"], m["n_c"]) == (3, 3)


def test_a_phoneme_without_time_does_not_split_an_interval():
    events = pd.DataFrame({"kind": ["C", "V", "C", "V", "C"], "duration": [0.1, 0.05, 0.0, 0.07, 0.1]})
    table = rhythm.intervals(events)
    assert table["kind"].tolist() == ["C", "V", "C"]
    assert table["duration"].tolist() == pytest.approx([0.1, 0.12, 0.1])


def test_pvi_of_a_regular_and_an_alternating_sequence():
    regular = pd.DataFrame({"kind": ["C", "V"] * 4, "duration": [0.08, 0.1] * 4})
    m = rhythm.metrics(rhythm.intervals(regular))
    assert m["npvi_v"] == 0 and m["rpvi_c"] == 0 and m["delta_c"] == 0 and m["percent_v"] == pytest.approx(100 / 1.8)
    # vowels alternating 50 and 150 ms: every pair differs by 100 % of its mean
    alternating = pd.DataFrame({"kind": ["C", "V"] * 4, "duration": [0.08, 0.05, 0.08, 0.15] * 2})
    assert rhythm.metrics(rhythm.intervals(alternating))["npvi_v"] == pytest.approx(100.0)


def test_too_few_intervals_give_nan_not_a_number():
    m = rhythm.metrics(rhythm.intervals(pd.DataFrame({"kind": ["C", "V"], "duration": [0.1, 0.2]})))
    assert m["percent_v"] == pytest.approx(100 * 2 / 3)
    assert np.isnan(m["delta_c"]) and np.isnan(m["npvi_v"]) and np.isnan(m["rpvi_c"])


def test_bad_events_are_named():
    with pytest.raises(ParameterError, match="kinds must be V, C, pause or none; got \\['vowel'\\]"):
        rhythm.intervals(pd.DataFrame({"kind": ["vowel"], "duration": [0.1]}))
    with pytest.raises(ParameterError, match="finite and >= 0"):
        rhythm.intervals(pd.DataFrame({"kind": ["V"], "duration": [-0.1]}))
    with pytest.raises(ParameterError, match="no vocalic or consonantal time"):
        rhythm.metrics(rhythm.intervals(pd.DataFrame({"kind": ["pause"], "duration": [0.1]})))
    with pytest.raises(ParameterError, match="per_speaker must be an int >= 1"):
        rhythm.corpus_rhythm(per_speaker=0)


def test_phoneme_classes_come_from_espeak_tables():
    es, en = rhythm.phoneme_classes("es"), rhythm.phoneme_classes("en")
    assert {es[p] for p in ["a", "e", "i", "o", "u"]} == {"V"}
    assert {es[p] for p in ["p", "t", "k", "s", "m", "n", "l", "r"]} == {"C"}
    assert es["_"] == "pause" and es["_:"] == "pause"
    assert en["aI"] == "V" and en["3:"] == "V" and en["T"] == "C"  # a diphthong, a long vowel


def test_real_synthesis_events_tile_the_utterance():
    speaker = synth.speakers(synth.PRESETS["smoke"]).iloc[0]
    events = rhythm.phoneme_events("Papá come pan.", language="es", speaker=speaker)
    spoken = events[events["kind"] != "none"]
    assert spoken[spoken["kind"] != "pause"]["phoneme"].tolist() == ["p", "a", "p", "a", "k", "o", "m", "e",
                                                                   "p", "a", "n"]
    # the phonemes tile the audio: each ends where the next starts, from the first sample to
    # eSpeak's end-of-clause event (a voice variant may add a short tail after it)
    np.testing.assert_allclose(events["end"].to_numpy()[:-1], events["start"].to_numpy()[1:])
    assert events["start"].iloc[0] == 0
    dry = synth._Espeak.get().say("Papá come pan.", voice=f"es+{speaker['variant']}", pitch=speaker["pitch"],
                                  pitch_range=speaker["pitch_range"], rate_wpm=speaker["rate_wpm"])
    assert dry.size / synth.ESPEAK_SR - 0.1 < events["end"].iloc[-1] <= dry.size / synth.ESPEAK_SR
    assert events["kind"].iloc[-1] == "pause"
    vowels = events.loc[events["kind"] == "V", "end"] - events.loc[events["kind"] == "V", "start"]
    assert vowels.between(0.02, 0.3).all()
    m = rhythm.metrics(rhythm.intervals(events))
    assert 20 < m["percent_v"] < 80 and m["n_v"] == 5 and m["n_c"] == 6  # p|a|p|a|k|o|m|e|p|a|n


def test_events_do_not_change_the_corpus_audio():
    """Switching phoneme events on gives the same samples: the events describe the corpus's speech."""
    speaker = synth.speakers(synth.PRESETS["smoke"]).iloc[1]
    args = dict(voice=f"it+{speaker['variant']}", speaker=dict(speaker))
    with_events, events = rhythm._speak("Mia sorella mangia il pane.", **args)
    plain = synth._Espeak.get().say("Mia sorella mangia il pane.", voice=args["voice"], pitch=speaker["pitch"],
                                    pitch_range=speaker["pitch_range"], rate_wpm=speaker["rate_wpm"])
    np.testing.assert_array_equal(with_events, plain)
    assert sum(1 for e in events if e[0] == 7) > 10


def test_corpus_rhythm_is_cached_and_summarised(tmp_path):
    config = synth.SynthConfig(n_speakers=3, clips_per_language=6, languages=("es", "ja"))
    store = Store(tmp_path)
    events = rhythm.corpus_rhythm(config, languages=("es", "ja", "en"), per_speaker=2, store=store)
    assert sorted(events["language"].unique()) == ["en", "es", "ja"]
    again = rhythm.corpus_rhythm(config, languages=("es", "ja", "en"), per_speaker=2, store=store)
    pd.testing.assert_frame_equal(events, again)
    per = rhythm.utterance_metrics(events)
    assert len(per) == 3 * 3 * 2
    # the utterance path and the one-table path agree
    one = events[events["utterance"] == per["utterance"].iloc[0]]
    one = one[one["language"] == per["language"].iloc[0]]
    assert rhythm.metrics(rhythm.intervals(one))["percent_v"] == pytest.approx(per["percent_v"].iloc[0])
    # the corpus's own sentences: Spanish utterances are the clips' sentences
    plan = synth.clip_plan(config)
    es_ids = set(events.loc[events["language"] == "es", "utterance"])
    assert es_ids <= set(plan.loc[plan["locale"] == "es", "clip_index"])
    summary = rhythm.language_summary(per)
    row = summary[(summary["language"] == "ja") & (summary["metric"] == "percent_v")].iloc[0]
    assert row["ci_low"] <= row["mean"] <= row["ci_high"] and row["n_speakers"] == 3


def test_published_table_is_labelled():
    table = rhythm.PUBLISHED.set_index("language")
    assert list(table.index) == ["en", "es", "it", "ja"]
    assert table.loc["ja", "percent_v"] > table.loc["es", "percent_v"] > table.loc["en", "percent_v"]
    assert not table["verified"].any()  # the chapter must say these were not checked
