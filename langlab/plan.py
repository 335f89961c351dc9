"""The analysis plan: endpoints, levels, families and the effects that verdicts are judged
against, fixed in the source before the results they judge (the Reproducibility appendix,
"The analysis plan"; Chapter 6 applies them).

Every chapter that tests or judges reads these constants; none types its own. In short:

- the **primary endpoint** is :data:`PRIMARY_ENDPOINT` (``val_loss_auc``, the mean validation
  loss over the fixed Spanish step budget: lower is faster learning, never censored);
  :data:`SECONDARY_ENDPOINT` (steps to threshold, censored at the budget) is secondary;
- every comparison of conditions is a *paired* difference over seeds
  (:func:`langlab.paired.paired_effect`) of the endpoint's logarithm, ``log(a) - log(b)``, so
  that it reads as a relative change ``exp(d) - 1`` (:data:`EFFECT_SCALE`);
- verdicts read the largest pre-training dose of the design (:data:`JUDGED_DOSE`);
- comparisons are grouped in :data:`FAMILIES`, declared in advance; p-values are
  Holm-adjusted inside each family;
- :data:`CLAIMS` lists what each comparison is expected to show: the original's claims, the
  design's positive control and its controls, each with the signed effect it is judged
  against (the original's own where it gave one, else :data:`MIN_RELATIVE_EFFECT`);
- the probe margins for the representation chapters: :data:`CHANCE`,
  :data:`MIN_ABOVE_CHANCE`, :data:`MIN_LEARNED` and :data:`DELTA`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# ------------------------------------------------------------------------------------------
# Levels
# ------------------------------------------------------------------------------------------
ALPHA = 0.05        #: significance level of every test (two-sided)
POWER = 0.8         #: power at which the smallest detectable effect is stated
CONFIDENCE = 0.95   #: level of every interval

# ------------------------------------------------------------------------------------------
# Endpoints (Chapter 3)
# ------------------------------------------------------------------------------------------
#: The primary endpoint: mean validation loss over the fixed Spanish budget (trapezoid from
#: step 0 to ``max_steps``, divided by ``max_steps``). Lower is faster learning; never censored.
PRIMARY_ENDPOINT = "val_loss_auc"
#: The secondary endpoint: Spanish steps until the validation loss first reaches the
#: threshold, censored at the budget (a censored run counts with the budget).
SECONDARY_ENDPOINT = "steps_to_threshold"
#: Both endpoints: a smaller value means faster learning.
LOWER_IS_FASTER = True
#: Comparisons are paired differences of the endpoint's natural logarithm, log(a) - log(b);
#: ``exp(d) - 1`` is the relative change of a against b (negative: a learns faster).
EFFECT_SCALE = "log ratio"
#: The dose judged: the verdicts read the largest pre-training dose of the design (the one that
#: gives pre-training its best chance), without the optimizer reset; the other doses and the
#: reset are shown as dose-response and ablation, not judged.
JUDGED_DOSE = "largest"
#: The pairing factor: a seed fixes the initial weights and the Spanish batch order in
#: every condition.
PAIR_BY = "seed"

# ------------------------------------------------------------------------------------------
# Minimum effects of interest
# ------------------------------------------------------------------------------------------
#: Where a claim gives only a direction, the smallest relative change of an endpoint that
#: counts: 5 % (a condition's endpoint 5 % lower than its comparison's).
MIN_RELATIVE_EFFECT = 0.05

#: The original's time to threshold (wall-clock seconds, one run each; ORIGINAL_STUDY).
ORIGINAL_SECONDS = {"none": 160.0, "it": 58.0}
#: The original's claimed reduction in time to threshold with Italian pre-training:
#: 1 - 58 / 160 = 0.6375 (a 64 % reduction). Judged on :data:`SECONDARY_ENDPOINT`, the
#: endpoint it was measured on (:func:`langlab.verdicts.judge_magnitude`).
ORIGINAL_REDUCTION = 1.0 - ORIGINAL_SECONDS["it"] / ORIGINAL_SECONDS["none"]


def log_effect(relative: float) -> float:
    """The log-ratio effect of a relative change (``-0.05`` -> ``log(0.95)``)."""
    return math.log1p(relative)


# ------------------------------------------------------------------------------------------
# Families of comparisons (each pair is a - b; Holm inside each family)
# ------------------------------------------------------------------------------------------
#: The reference the temporal and noise controls are set against. The controls are made from
#: a balanced mix of the three languages' low-passed clips, so their speech counterpart is
#: "speech": per seed, the geometric mean of an endpoint over :data:`SPEECH_LANGUAGES`
#: (the mean of its logarithm; :func:`langlab.claims.with_speech`).
SPEECH_REFERENCE = "speech"
SPEECH_LANGUAGES = ("es", "it", "ja")

FAMILIES: dict[str, tuple[tuple[str, str], ...]] = {
    # Does pre-training on low-passed speech change learning at all?
    "speech vs none": (("es", "none"), ("it", "none"), ("ja", "none")),
    # The design's positive control: the task's own language should help more than others.
    "positive control": (("es", "it"), ("es", "ja")),
    # The original's ordering: Italian (same rhythm class as Spanish) before Japanese.
    "original's ordering": (("it", "ja"),),
    # What of speech helps: its temporal order (shuffled), its rhythm's direction
    # (reversed), anything beyond its spectrum (noise).
    "controls": ((SPEECH_REFERENCE, "shuffled"), (SPEECH_REFERENCE, "reversed"),
                 (SPEECH_REFERENCE, "noise")),
}


def family_of(pair: tuple[str, str]) -> str:
    """The family a comparison ``(a, b)`` belongs to (:class:`KeyError` if undeclared)."""
    for name, pairs in FAMILIES.items():
        if tuple(pair) in pairs:
            return name
    raise KeyError(f"comparison {pair!r} is in no family of the plan: {FAMILIES}")


@dataclass(frozen=True)
class Claim:
    """One claim judged in Chapter 6.

    ``pair`` is compared as ``a - b`` on ``endpoint`` (log ratio); ``claimed`` is the signed
    log-ratio effect it is judged against (:func:`langlab.verdicts.judge`); ``magnitude`` the
    original's relative reduction where it gave one (else ``None``); ``source`` who claims it.
    """

    name: str
    text: str
    pair: tuple[str, str]
    claimed: float
    source: str
    magnitude: float | None = None
    endpoint: str = PRIMARY_ENDPOINT


_FASTER = log_effect(-MIN_RELATIVE_EFFECT)   # a's endpoint 5 % below b's

#: The claims, in the order of Chapter 6's table.
CLAIMS: tuple[Claim, ...] = (
    Claim("it_vs_none", "Italian pre-training speeds up learning Spanish", ("it", "none"),
          _FASTER, "original", magnitude=ORIGINAL_REDUCTION),
    Claim("it_vs_ja", "Italian pre-training helps more than Japanese (rhythm class)",
          ("it", "ja"), _FASTER, "original"),
    Claim("es_vs_it", "Spanish pre-training helps more than Italian (positive control)",
          ("es", "it"), _FASTER, "design"),
    Claim("es_vs_ja", "Spanish pre-training helps more than Japanese (positive control)",
          ("es", "ja"), _FASTER, "design"),
    Claim("speech_vs_shuffled", "speech helps more than the same speech with its frames "
          "shuffled (temporal order)", (SPEECH_REFERENCE, "shuffled"), _FASTER, "design"),
    Claim("speech_vs_reversed", "speech helps more than the same speech played backwards "
          "(rhythm and melody)", (SPEECH_REFERENCE, "reversed"), _FASTER, "design"),
    Claim("speech_vs_noise", "speech helps more than speech-shaped noise (speech as such)",
          (SPEECH_REFERENCE, "noise"), _FASTER, "design"),
)

# ------------------------------------------------------------------------------------------
# Probe margins (Chapters 4 and 5, issue 15)
# ------------------------------------------------------------------------------------------
#: The probes' score that verdicts read: ROC AUC of the class-weighted linear probe with
#: speakers kept apart, on the binary task (threshold-free; balanced accuracy is reported
#: beside it).
PROBE_METRIC = "auc"
CHANCE = 0.5            #: balanced accuracy and ROC AUC of any constant answer
#: "Separates Spanish from the rest": the smallest margin above chance that counts
#: (5 percentage points of balanced accuracy or AUC).
MIN_ABOVE_CHANCE = 0.05
#: "Training put it there": the smallest trained-minus-untrained gain (paired by seed) that
#: counts as learned information (3 percentage points of balanced accuracy or AUC).
MIN_LEARNED = 0.03
#: Equivalence margin: two probes whose difference lies within +-DELTA count as equal
#: ("pre-training does not change the probe").
DELTA = 0.05
