"""The ``smoke``, ``book`` and ``paper`` presets: one frozen config object per pipeline stage.

- ``paper``: the original study's parameters (22 050 Hz, 128 mels, n_fft 2048, hop 512, 5 s,
  LSTM 250), for a real Common Voice download, run from the command line.
- ``book``: sized so that the whole book builds on a 2-core laptop CPU in minutes.
- ``smoke``: tiny, for tests.

Each stage module owns its config class and a ``PRESETS`` dict ``{name: config}``; this module
only gathers them, so a stage's defaults live next to the code that uses them.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from langlab.errors import ParameterError

PRESET_NAMES = ("smoke", "book", "paper")

#: Preset field -> module whose ``PRESETS`` dict provides it.
STAGE_MODULES = {
    "synth": "langlab.synth",
    "corpus": "langlab.corpus",
    "features": "langlab.features",
    "lstm": "langlab.training",
    "autoencoder": "langlab.autoencoder",
    "probing": "langlab.probing",
}


@dataclasses.dataclass(frozen=True)
class Preset:
    """All stage configs of one preset; ``preset.features`` is a ``FeatureConfig`` and so on."""

    name: str
    stages: tuple[tuple[str, Any], ...]

    def __getattr__(self, stage: str) -> Any:
        for name, config in object.__getattribute__(self, "stages"):
            if name == stage:
                return config
        raise AttributeError(f"preset {self.name!r} has no stage {stage!r}; "
                             f"stages: {', '.join(n for n, _ in self.stages)}")

    def replace(self, **changes: Any) -> "Preset":
        """A copy with some stage configs replaced, e.g. ``preset.replace(features=cfg)``."""
        unknown = set(changes) - {n for n, _ in self.stages}
        if unknown:
            raise ParameterError(f"unknown stage(s) {sorted(unknown)}; expected one of "
                                 f"{[n for n, _ in self.stages]}")
        return Preset(self.name, tuple((n, changes.get(n, c)) for n, c in self.stages))


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (``"smoke"``, ``"book"`` or ``"paper"``)."""
    if name not in PRESET_NAMES:
        raise ParameterError(f"unknown preset {name!r}; expected one of {', '.join(PRESET_NAMES)}")
    stages = []
    for stage, module_name in STAGE_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # stage not part of this version of the package
        stages.append((stage, module.PRESETS[name]))
    return Preset(name, tuple(stages))


def as_preset(preset: "str | Preset") -> Preset:
    """``preset`` itself, or the preset called ``preset``: what every stage function accepts
    as its ``preset`` argument (Chapter 1)."""
    if isinstance(preset, Preset):
        return preset
    if not isinstance(preset, str):
        raise ParameterError(f"preset must be a preset name or a Preset, got {preset!r}")
    return get_preset(preset)
