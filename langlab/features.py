"""Mel spectrograms: the original's preprocessing, done fast, in a resumable store (Chapter 2).

Every clip goes through the same steps as in the original study, one frozen
:class:`FeatureConfig` holding every parameter (the array steps are in :mod:`langlab.dsp`):

1. **Fixed length.** Decode, mix down and resample to ``sr`` (:func:`langlab.audio.load_audio`),
   keep the first ``duration`` seconds and zero-pad shorter clips
   (:func:`langlab.audio.fix_length`). How much of each clip is padding is recorded
   (``padding_fraction``).
2. **Low-pass (optional).** A Butterworth low-pass of order ``lowpass_order`` at ``lowpass_hz``,
   as second-order sections, run forward and backward (:func:`langlab.dsp.lowpass`, zero phase,
   so the magnitude response is applied twice).
3. **Mel spectrogram.** Power STFT (Hann window ``n_fft``, hop ``hop_length``, centred frames
   padded with zeros, as :func:`librosa.stft`) times a mel filterbank computed once
   (:func:`langlab.dsp.mel_filterbank`, :func:`librosa.filters.mel`): ``S`` [n_mels, n_frames].
4. **Decibels.** ``S_db = 10 log10(S / ref)``, floored ``top_db`` below the clip's maximum
   (:func:`langlab.dsp.power_to_db`). With ``ref="min"`` (the original's ``ref=np.min``) the
   reference is the clip's own quietest bin, so every value is >= 0 dB *relative to that bin*
   and says nothing about how loud the clip was; the reference level is kept in the table
   (``ref_db``) so absolute levels can be recovered.
5. **Scaling for training** (:meth:`FeatureSet.scaled`): by default each spectrogram is
   min-max scaled to [0, 1] on its own, like the original; ``mode="global"`` maps one fixed dB
   range of the whole feature set to [0, 1] instead (see :func:`langlab.dsp.scale_global`).

Silent clips (the rule is in :mod:`langlab.dsp`, computed before the low-pass) are flagged
``is_silent``; :meth:`FeatureSet.where` leaves them out unless asked.

The store
---------
:func:`extract` writes one store entry (stage ``"features"``) keyed by the clip table and the
config: ``S_db.npy`` (float32 [n_clips, n_mels, n_frames], loaded memory-mapped), ``table.csv``
(one row per clip, aligned with ``S_db``), ``skipped.csv`` and the manifest. It is computed in
shards of :data:`SHARD_SIZE` clips by :func:`langlab.feature_store.compute`, so an interrupted
extraction resumes where it stopped and ends byte-identical to an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab import feature_store
from langlab.dsp import empty_mel_filters, max_n_mels, scale_global, scale_minmax
from langlab.errors import (DataError, ParameterError, check, check_choice, check_int, check_number,
                            checked)
from langlab.presets import as_preset
from langlab.store import Entry, Store, default_store

__all__ = ["FeatureConfig", "PRESETS", "PAPER_LOWPASS_HZ", "FeatureSet", "SHARD_SIZE", "STAGE", "extract",
           "load", "for_preset"]

#: Store stage of a feature set.
STAGE = "features"
#: Clips per shard: the unit of parallel work, of progress and of resumption.
SHARD_SIZE = 32
#: The compute roots of a feature entry (part of its store key, :mod:`langlab.codeversion`):
#: feature_store.compute runs feature_store._extract_shard -> dsp.waveform_features and
#: audio.load_audio / audio.fix_length in the workers.
ROOTS = (feature_store.compute,)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Every parameter of the mel pipeline (Chapter 2). Checked when created.

    Parameters
    ----------
    sr : int
        Sample rate in Hz the clips are resampled to (the original: 22 050).
    duration : float
        Seconds kept of every clip (the first ones; shorter clips are zero-padded).
    n_fft : int
        STFT window length in samples (Hann window); at most ``duration * sr``.
    hop_length : int
        Samples between frames, 1 <= ``hop_length`` <= ``n_fft``.
    n_mels : int
        Mel bands. Too many for ``n_fft`` leaves mel filters without any FFT bin: an error.
    fmin, fmax : float, float or None
        Lowest and highest frequency of the mel filterbank in Hz; ``fmax=None`` is ``sr / 2``.
    lowpass_hz : float or None
        Cut-off of the zero-phase Butterworth low-pass in Hz, below ``sr / 2``; None: full band.
    lowpass_order : int
        Order of the Butterworth filter (the original: 4). Run forward and backward, the
        magnitude response is squared (-6 dB at the cut-off, twice the roll-off).
    ref : "min", "max" or float
        dB reference: the clip's quietest bin (``"min"``, the original's ``ref=np.min``), its
        loudest (``"max"``: values <= 0 dB), or a fixed power.
    amin : float
        Powers below ``amin`` are taken as ``amin`` (``log10(0)`` is undefined).
    top_db : float or None
        Values more than ``top_db`` below the clip's maximum are raised to that floor; None: no
        floor.
    silence_abs_db : float
        A frame quieter than this (dB re full scale) is silent.
    silence_margin_db : float
        A frame within this many dB of the clip's noise floor is silent.
    silence_floor_percentile : float
        The noise floor is this percentile (0-100) of the levels of the clip's non-padding frames.
    max_silent_fraction : float
        A clip with more silent frames than this fraction (padding included) is silent.
    scaling : "clip" or "global"
        Default of :meth:`FeatureSet.scaled`: per-clip min-max (the original) or one dB range
        for the whole set. Not part of the store key (scaling happens when loading).

    Attributes
    ----------
    n_samples : int
        ``round(duration * sr)``, samples per fixed-length clip.
    n_frames : int
        ``1 + n_samples // hop_length``, frames per spectrogram (centred frames).
    """

    sr: int = 16000
    duration: float = 3.0
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float | None = None
    lowpass_hz: float | None = None
    lowpass_order: int = 4
    ref: str | float = "min"
    amin: float = 1e-10
    top_db: float | None = 80.0
    silence_abs_db: float = -60.0
    silence_margin_db: float = 6.0
    silence_floor_percentile: float = 5.0
    max_silent_fraction: float = 0.5
    scaling: str = "clip"

    def __post_init__(self):
        checked(self, "sr", check_int, minimum=1)
        check_number(self.duration, "duration", minimum=0, open_low=True, unit="s")
        n_samples = self.n_samples
        check(n_samples >= 1, f"duration={self.duration!r} s at sr={self.sr} gives no samples")
        checked(self, "n_fft", check_int, minimum=2)
        check(self.n_fft <= n_samples,
              f"n_fft={self.n_fft} is longer than the clip: duration={self.duration} s at sr={self.sr} "
              f"gives {n_samples} samples; use n_fft <= {n_samples} or a longer duration")
        checked(self, "hop_length", check_int, minimum=1)
        check(self.hop_length <= self.n_fft,
              f"hop_length={self.hop_length} is larger than n_fft={self.n_fft}: samples between windows "
              "would never be analysed; use hop_length <= n_fft")
        checked(self, "n_mels", check_int, minimum=1)
        nyquist = self.sr / 2
        check_number(self.fmin, "fmin", minimum=0, maximum=nyquist, open_high=True, unit="Hz (below sr/2)")
        if self.fmax is not None:
            check_number(self.fmax, "fmax", minimum=self.fmin, maximum=nyquist, open_low=True,
                         unit="Hz (above fmin, at most sr/2; None: sr/2)")
        if self.lowpass_hz is not None:
            check_number(self.lowpass_hz, "lowpass_hz", minimum=0, maximum=nyquist, open_low=True,
                         open_high=True, unit="Hz (None: full band)")
        checked(self, "lowpass_order", check_int, minimum=1, maximum=12)
        if self.ref not in ("min", "max"):
            check_number(self.ref, "ref ('min', 'max' or a power)", minimum=0, open_low=True)
        check_number(self.amin, "amin", minimum=0, open_low=True)
        if self.top_db is not None:
            check_number(self.top_db, "top_db", minimum=0, open_low=True, unit="dB")
        check_number(self.silence_abs_db, "silence_abs_db", maximum=0, unit="dB re full scale")
        check_number(self.silence_margin_db, "silence_margin_db", minimum=0, unit="dB")
        check_number(self.silence_floor_percentile, "silence_floor_percentile", minimum=0, maximum=100)
        check_number(self.max_silent_fraction, "max_silent_fraction", minimum=0, maximum=1, open_low=True)
        check_choice(self.scaling, "scaling ('clip': per-clip min-max, 'global': one dB range)", ("clip", "global"))
        empty = empty_mel_filters(sr=self.sr, n_fft=self.n_fft, n_mels=self.n_mels, fmin=float(self.fmin),
                                  fmax=self.fmax_hz)
        if empty:
            best = max_n_mels(sr=self.sr, n_fft=self.n_fft, fmin=float(self.fmin), fmax=self.fmax_hz)
            raise ParameterError(
                f"n_mels={self.n_mels} is too many for n_fft={self.n_fft} at sr={self.sr} Hz "
                f"({self.fmin:g}-{self.fmax_hz:g} Hz): {empty} mel filter(s) would contain no FFT bin "
                f"(bins are {self.sr / self.n_fft:.1f} Hz apart); use n_mels <= {best} or a larger n_fft")

    @property
    def n_samples(self) -> int:
        """Samples per fixed-length clip, ``round(duration * sr)``."""
        return int(round(float(self.duration) * int(self.sr)))

    @property
    def n_frames(self) -> int:
        """Frames per spectrogram, ``1 + n_samples // hop_length`` (centred frames, like librosa)."""
        return 1 + self.n_samples // self.hop_length

    @property
    def n_freqs(self) -> int:
        """FFT bins per frame, ``1 + n_fft // 2``."""
        return 1 + self.n_fft // 2

    @property
    def fmax_hz(self) -> float:
        """``fmax``, or ``sr / 2`` when it is None."""
        return float(self.fmax) if self.fmax is not None else self.sr / 2

    @property
    def frame_seconds(self) -> float:
        """Seconds between frames, ``hop_length / sr``."""
        return self.hop_length / self.sr

    def with_lowpass(self, lowpass_hz: float | None) -> "FeatureConfig":
        """The same config with another low-pass cut-off (None: full band)."""
        return dataclasses.replace(self, lowpass_hz=None if lowpass_hz is None else float(lowpass_hz))



PRESETS = {
    # Tiny, for tests: 8 kHz, 1.5 s, 16 ms hops, 20 mels: 20 x 94 spectrograms.
    "smoke": FeatureConfig(sr=8000, duration=1.5, n_fft=256, hop_length=128, n_mels=20),
    # The book: 16 kHz (telephone-wideband speech keeps everything below 8 kHz), the first 3 s
    # (the embedded corpus's clips last about 3.2 s, so little padding), 64 ms windows, 16 ms
    # hops, 40 mels: 40 x 188 spectrograms, about 7x fewer numbers than the paper's 128 x 216,
    # so that the LSTM chapter can train dozens of runs on a laptop CPU.
    "book": FeatureConfig(sr=16000, duration=3.0, n_fft=1024, hop_length=256, n_mels=40, fmax=8000.0),
    # The original study: 22 050 Hz, 5 s, n_fft 2048, hop 512 (23 ms), 128 mels up to sr/2, dB
    # re the clip's quietest bin. The original applied amplitude_to_db (20 log10, top_db 80) to a
    # *power* spectrogram, which keeps 40 dB of power range: top_db=40 on power dB gives the
    # same values after min-max scaling (S_db itself is half the original's numbers).
    "paper": FeatureConfig(sr=22050, duration=5.0, n_fft=2048, hop_length=512, n_mels=128, fmin=0.0,
                           fmax=11025.0, ref="min", top_db=40.0),
}
#: The original's low-pass: 500 Hz, order 4 (``PRESETS[name].with_lowpass(PAPER_LOWPASS_HZ)``).
PAPER_LOWPASS_HZ = 500.0


# --------------------------------------------------------------------------------------------
# The feature set
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class FeatureSet:
    """Spectrograms of a clip table, aligned row by row (Chapter 2).

    Attributes
    ----------
    S_db : np.ndarray [shape=(n_clips, n_mels, n_frames)] float32
        dB spectrograms (a read-only memory map when loaded from the store).
    table : pandas.DataFrame
        One row per spectrogram: the clip table's columns (``path``, ``locale``, ``client_id``,
        ``role``, ...) plus ``padding_fraction``, ``silent_fraction``, ``is_silent``, ``ref_db``,
        ``peak_db``; index 0..n_clips-1.
    skipped : pandas.DataFrame
        ``path``, ``reason``: clips that could not be turned into spectrograms.
    config : FeatureConfig
        The parameters the spectrograms were computed with.
    key : str
        Store key (use ``inputs=[features.key]`` downstream).
    db_range : tuple of float or None
        The ``(lo, hi)`` range in dB re power 1 that ``scaled(mode="global")`` maps to [0, 1]:
        the whole entry's loudest bin and ``top_db`` below it, shared by every subset.
    path : Path or None
        The store entry's folder.
    """

    S_db: np.ndarray
    table: pd.DataFrame
    skipped: pd.DataFrame
    config: FeatureConfig
    key: str
    db_range: tuple[float, float] | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return (f"FeatureSet({len(self)} clips, S_db {tuple(self.S_db.shape)}, "
                f"{int(self.table['is_silent'].sum()) if 'is_silent' in self.table else 0} silent, "
                f"{len(self.skipped)} skipped, key={self.key!r})")

    def where(self, *, role: str | Sequence[str] | None = None, locale: str | Sequence[str] | None = None,
              include_silent: bool = False) -> "FeatureSet":
        """The clips with the given role(s) and locale(s); silent clips are left out unless
        ``include_silent``. Rows keep their order; the result's index is 0..n-1."""
        keep = np.ones(len(self.table), dtype=bool)
        if role is not None:
            check("role" in self.table, "this feature set has no 'role' column (it was not made from Clips)")
            keep &= self.table["role"].isin([role] if isinstance(role, str) else list(role)).to_numpy()
        if locale is not None:
            keep &= self.table["locale"].isin([locale] if isinstance(locale, str) else list(locale)).to_numpy()
        if not include_silent and "is_silent" in self.table:
            keep &= ~self.table["is_silent"].to_numpy(dtype=bool)
        idx = np.flatnonzero(keep)
        if len(idx) == len(self.table):
            return self
        if len(idx) and idx[-1] - idx[0] + 1 == len(idx):  # contiguous: keep the memory map
            S = self.S_db[idx[0]: idx[-1] + 1]
        else:
            S = np.asarray(self.S_db[idx])
        return dataclasses.replace(self, S_db=S, table=self.table.iloc[idx].reset_index(drop=True))

    def scaled(self, *, mode: str | None = None, db_range: tuple[float, float] | None = None,
               time_major: bool = False) -> np.ndarray:
        """The spectrograms scaled to [0, 1] for training: float32 [n_clips, n_mels, n_frames]
        (``[n_clips, n_frames, n_mels]`` with ``time_major=True``).

        Parameters
        ----------
        mode : "clip", "global" or None
            ``"clip"``: each spectrogram min-max scaled on its own (the original; every clip
            spans exactly [0, 1] whatever its loudness or bandwidth). ``"global"``: absolute
            levels (``S_db + ref_db``) mapped through one range for all clips
            (:func:`scale_global`). None: ``config.scaling``.
        db_range : (lo, hi) or None
            For ``"global"``: the range; default :attr:`db_range` (the whole entry's).
        time_major : bool
            Frames as rows: ``[n_clips, n_frames, n_mels]``, what a recurrent network reads.
        """
        mode = mode or self.config.scaling
        check(mode in ("clip", "global"), f"mode must be 'clip' or 'global', got {mode!r}")
        if mode == "clip":
            return scale_minmax(self.S_db, time_major=time_major)
        rng = db_range or self.db_range
        check(rng is not None, "no db_range for global scaling; pass db_range=(lo, hi) in dB re power 1")
        ref = self.table["ref_db"].to_numpy(dtype=np.float32)[:, None, None]
        S = scale_global(np.asarray(self.S_db, dtype=np.float32) + ref, db_range=rng)
        return np.ascontiguousarray(S.transpose(0, 2, 1)) if time_major else S

    def manifest(self) -> dict:
        """The store entry's manifest (config, clip list, skipped clips, timings)."""
        import json

        check(self.path is not None, "this feature set is not stored")
        return json.loads((Path(self.path) / "manifest.json").read_text())


# --------------------------------------------------------------------------------------------
# Extraction into the store
# --------------------------------------------------------------------------------------------
def _store_config(config: FeatureConfig) -> FeatureConfig:
    """The config as it keys the store: scaling happens at load time, so it is left out."""
    return dataclasses.replace(config, scaling="clip")


def extract(clips_or_table, *, config: FeatureConfig, store: Store | None = None, n_jobs: int = 2,
            progress: bool = True) -> FeatureSet:
    """Mel spectrograms of every clip, computed once and kept in the store (Chapter 2).

    Parameters
    ----------
    clips_or_table : corpus.Clips or pandas.DataFrame
        The clips (all rows of ``clips.table``), or any table with a ``path`` column of audio
        files (other columns are carried along).
    config : FeatureConfig
        The parameters (e.g. ``features.PRESETS["book"]``).
    store : Store or None
        Where the entry lives (stage ``"features"``); None: the default store.
    n_jobs : int
        Worker processes (joblib; no backend is forced, so ``joblib.parallel_config(
        backend="dask")`` around the call sends the shards to a Dask cluster).
    progress : bool
        A progress bar over shards on stderr.

    Returns
    -------
    FeatureSet
        ``S_db`` memory-mapped from the store; ``table`` aligned with it (broken clips are in
        ``skipped`` with the reason instead).

    Notes
    -----
    Shards of :data:`SHARD_SIZE` clips are computed in parallel and saved as they finish; after
    an interruption (even ``kill -9``) the next call computes only the missing shards and
    assembles the same bytes as an uninterrupted run.
    """
    check(isinstance(config, FeatureConfig), f"config must be a FeatureConfig, got {type(config).__name__}")
    check_int(n_jobs, "n_jobs", minimum=1, also=(-1,))
    table, root, inputs, upstream_skipped = feature_store.table_source(clips_or_table)
    store = default_store(store)
    selection = feature_store.selection_id(table, root)
    entry = store.entry(STAGE, config={"features": _store_config(config), "selection": selection},
                        inputs=inputs, code=ROOTS)
    if not entry.exists():
        with entry.lock():  # a second process waits for this one's result, then reuses it
            if not entry.exists():
                feature_store.compute(entry, table, root, config, selection, shard_size=SHARD_SIZE,
                                      n_jobs=n_jobs, progress=progress, upstream_skipped=upstream_skipped)
    return load(entry.path, config=config, root=root)



def load(path: str | os.PathLike, *, config: FeatureConfig | None = None, root: str | os.PathLike | None = None
         ) -> FeatureSet:
    """A stored feature set from its entry folder (``S_db`` memory-mapped, read-only).

    Parameters
    ----------
    path : path-like
        The entry folder (``FeatureSet.path``), holding ``manifest.json``.
    config : FeatureConfig or None
        The config to attach (its ``scaling`` may differ from the stored one); None rebuilds it
        from the manifest.
    root : path-like or None
        Corpus root the stored relative clip paths are joined to; None: the manifest's root.
    """
    import json

    path = Path(path)
    manifest_file = path / "manifest.json"
    check(manifest_file.exists(), f"{path} is not a complete feature entry (no manifest.json)", DataError)
    Entry.at(path).require()  # every file of the manifest, at its recorded size (and hash if small)
    manifest = json.loads(manifest_file.read_text())
    if config is None:
        cfg = {k: v for k, v in manifest["config"]["features"].items() if k != "__class__"}
        config = FeatureConfig(**cfg)
    S_db = np.load(path / "S_db.npy", mmap_mode="r")
    table = feature_store.read_table(path / "table.csv", manifest["columns"])
    skipped = feature_store.read_table(path / "skipped.csv", {})
    base = Path(root) if root is not None else (Path(manifest["root"]) if manifest.get("root") else None)
    if base is not None:
        prefix = str(base) + os.sep
        for df in (table, skipped):
            rel = ~df["path"].str.startswith(os.sep) if len(df) else df["path"].astype(bool)
            df.loc[rel, "path"] = prefix + df.loc[rel, "path"]
    check(S_db.shape[0] == len(table), f"{path}: S_db has {S_db.shape[0]} rows but table.csv {len(table)}",
          DataError)
    db_range = tuple(manifest["db_range"]) if manifest.get("db_range") else None
    return FeatureSet(S_db=S_db, table=table, skipped=skipped, config=config, key=path.name,
                      db_range=db_range, path=path)


def for_preset(preset, *, lowpass_hz: float | None = None, data_dir: str | os.PathLike | None = None,
               store: Store | None = None, n_jobs: int = 2, progress: bool = True) -> FeatureSet:
    """The features of a preset's corpus: every clip with a role other than ``unused`` (Chapter 2).

    Parameters
    ----------
    preset : Preset or str
        Its ``features`` config (and ``corpus``/``synth`` configs for :func:`langlab.corpus.prepare`).
    lowpass_hz : float or None
        Low-pass cut-off (e.g. 500 for the pre-training clips); None: ``preset.features`` as is.
    data_dir : path-like or None
        A Common Voice folder; None: the embedded corpus.
    store : Store or None
        The store of the corpus table and the features; None: the default store.
    n_jobs : int
        Worker processes.

    Returns
    -------
    FeatureSet
    """
    from langlab import corpus

    preset = as_preset(preset)
    config = preset.features
    check(isinstance(config, FeatureConfig), f"preset.features must be a FeatureConfig, got {type(config).__name__}")
    if lowpass_hz is not None:
        config = config.with_lowpass(lowpass_hz)
    store = default_store(store)
    clips = corpus.prepare(preset, data_dir=data_dir, store=store)
    used = clips.table[clips.table["role"] != "unused"].reset_index(drop=True)
    return extract(dataclasses.replace(clips, table=used), config=config, store=store, n_jobs=n_jobs,
                   progress=progress)
