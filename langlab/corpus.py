"""Common Voice reader, clip checks and speaker-disjoint splits (Chapter 1).

The same code reads a real Common Voice download and the embedded corpus of
:mod:`langlab.synth`, which is written in the same layout::

    <release>/<locale>/clips/*.mp3
    <release>/<locale>/validated.tsv     (also train/dev/test/other/invalidated.tsv)

- :func:`read_corpus`: one row per clip of the chosen TSV (``validated.tsv`` by default) of a
  release folder or of a single locale folder, with each clip's duration, sample rate and
  channels from its header, plus a table of the clips that cannot be used and why.
- :func:`assign_roles`: the splits every later chapter uses (speaker-disjoint, and
  sentence-disjoint where it matters, see :data:`ROLES`).
- :func:`prepare`: both, for a preset, cached in the store: ``corpus.prepare(preset)`` returns
  the :class:`Clips` of the embedded corpus, ``corpus.prepare(preset, data_dir=CV_DIR)`` those
  of a real download.

**Bad input**

A folder or file that is not a Common Voice corpus (no locale folder, no TSV, a garbled TSV,
missing columns) raises :class:`~langlab.errors.DataError` naming the file and what was
expected. Broken *clips* never stop the reader: a row that names a missing file, an empty
file, or bytes that are not decodable audio is left out and listed in ``Clips.skipped`` with
its reason. Valid but awkward clips are read and flagged in the ``flags`` column:

================  ===========================================================================
flag              meaning
================  ===========================================================================
``stereo``        more than one channel (mixed down to mono when loaded)
``long``          longer than :data:`LONG_SECONDS` (Common Voice clips last at most 10 s)
``short``         shorter than :data:`SHORT_SECONDS`, less than one analysis frame
``other_format``  the content is not what the file name says (e.g. WAV behind ``.mp3``)
``other_rate``    sample rate other than Common Voice's 48 kHz (resampled when loaded)
================  ===========================================================================

Pure silence cannot be seen in a header; the feature stage marks silent clips (``is_silent``,
Chapter 2).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab import audio
from langlab.errors import DataError, check, check_int, check_number, check_tuple, checked
from langlab.store import Store, atomic_write_bytes, default_store

__all__ = ["CorpusConfig", "PRESETS", "Clips", "ROLES", "REQUIRED_COLUMNS", "read_tsv", "release_folder", "find_locales",
           "read_corpus", "assign_roles", "prepare", "summarize", "split_counts"]

#: Store stage of a prepared clip table.
STAGE = "corpus"
#: TSV columns the reader needs (the locale comes from a ``locale`` column or the folder name).
REQUIRED_COLUMNS = ("path", "client_id", "sentence")
#: What each clip is used for. ``train``: Spanish (the main locale), main training. ``val``: main
#: locale, held-out speakers (validation loss). ``pretrain``: equal counts of every locale from
#: the training speakers; the main-locale ones sentence-disjoint from ``train``. ``probe``:
#: equal counts of every locale, from speakers in no other role. ``unused``: the rest.
ROLES = ("train", "val", "pretrain", "probe", "unused")
#: Clips longer than this (s) are flagged ``long``.
LONG_SECONDS = 10.0
#: Clips shorter than this (s) are flagged ``short`` (one 2048-sample frame at 22 050 Hz is 93 ms).
SHORT_SECONDS = 0.1
#: Common Voice's sample rate; other rates are flagged ``other_rate``.
CV_SAMPLE_RATE = 48000
_FORMATS = {"mp3": "MP3", "wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
#: ``langlab info`` lists this many flagged clips unless asked for ``--all``.
FLAGGED_SHOWN = 20
#: Columns of :attr:`Clips.table`, first in this order, then the TSV's other columns.
TABLE_COLUMNS = ("path", "locale", "client_id", "sentence", "duration", "sample_rate", "channels",
                 "format", "flags", "role")


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    """Which clips are read and how they are split (Chapter 1).

    Parameters
    ----------
    locales : tuple of str
        Locales to read (folder names of the release).
    main_locale : str
        The language the networks learn (the original: Spanish).
    tsv : str
        The TSV of each locale folder to read (``validated.tsv``; also ``train.tsv`` etc.).
    max_clips_per_locale : int or None
        Read at most this many rows per locale (a seeded random subset, before any audio is
        touched); None reads all.
    min_duration, max_duration : float, float or None
        Clips outside this range (s) get role ``unused``.
    n_train : int or None
        Main-locale training clips; None takes every one left after the other roles.
    n_val : int
        Main-locale validation clips, from at least ``min_val_speakers`` speakers of their own.
    min_val_speakers : int
    n_pretrain : int
        Pre-training clips of *each* locale, from the training speakers.
    n_probe : int
        Probe clips of *each* locale, from at least ``min_probe_speakers`` speakers (per locale)
        that appear in no other role.
    min_probe_speakers : int
    seed : int
        Seeds the subset and the splits.
    """

    locales: tuple[str, ...] = ("es", "it", "ja")
    main_locale: str = "es"
    tsv: str = "validated.tsv"
    max_clips_per_locale: int | None = None
    min_duration: float = 0.0
    max_duration: float | None = None
    n_train: int | None = None
    n_val: int = 48
    min_val_speakers: int = 4
    n_pretrain: int = 72
    n_probe: int = 108
    min_probe_speakers: int = 12
    seed: int = 0

    def __post_init__(self):
        checked(self, "locales", check_tuple, item=_check_locale, min_len=1, unique=True)
        check(self.main_locale in self.locales,
              f"main_locale {self.main_locale!r} must be one of locales {self.locales!r}")
        check(isinstance(self.tsv, str) and self.tsv.endswith(".tsv") and "/" not in self.tsv,
              f"tsv must be a file name like 'validated.tsv', got {self.tsv!r}")
        for name in ("max_clips_per_locale", "n_train"):
            if getattr(self, name) is not None:
                checked(self, name, check_int, minimum=1)
        check_number(self.min_duration, "min_duration", minimum=0, unit="s")
        if self.max_duration is not None:
            check_number(self.max_duration, "max_duration", minimum=self.min_duration, open_low=True, unit="s")
        for name in ("n_val", "min_val_speakers", "n_pretrain", "n_probe", "min_probe_speakers"):
            checked(self, name, check_int, minimum=1)
        checked(self, "seed", check_int, minimum=0)


def _check_locale(code: Any, name: str) -> str:
    check(isinstance(code, str) and bool(code), f"{name} must be a locale code like 'es', got {code!r}")
    return code


PRESETS = {
    # The smoke corpus: 10 speakers x 3 clips per language. Probe 3 speakers, val 2, train 5.
    "smoke": CorpusConfig(n_val=6, min_val_speakers=2, n_pretrain=5, n_probe=9, min_probe_speakers=3),
    # The book corpus (40 speakers): probe 12 speakers (108 clips a language), val 4 speakers,
    # 24 training speakers: 72 pre-training clips a language and the rest of Spanish for training.
    "book": CorpusConfig(n_val=48, min_val_speakers=4, n_pretrain=72, n_probe=108, min_probe_speakers=12),
    # The original's sizes on a real download: 3 200 train, 160 val (80/16/4 of 4 000 without
    # the test part), 800 pre-training clips a language, 500 probe clips a language.
    "paper": CorpusConfig(max_clips_per_locale=12000, n_train=3200, n_val=160, min_val_speakers=10,
                          n_pretrain=800, n_probe=500, min_probe_speakers=20),
}


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class Clips:
    """The clips of a corpus and their roles, as :func:`prepare` returns them (Chapter 1).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per usable clip: ``path`` (absolute), ``locale``, ``client_id`` (the speaker),
        ``sentence``, ``duration`` (s), ``sample_rate`` (Hz), ``channels``, ``format``,
        ``flags`` (``;``-separated, see the module docstring), ``role`` (:data:`ROLES`), then
        the TSV's other columns (``gender``, ``age``, ...).
    skipped : pandas.DataFrame
        ``path``, ``reason``: every clip (or TSV row) that could not be used.
    root : Path
        The release (or locale) folder read.
    key : str
        Store key of this table; pass ``inputs=[clips.key]`` to entries computed from it.
    config : CorpusConfig or None
    """

    table: pd.DataFrame
    skipped: pd.DataFrame
    root: Path
    key: str
    config: CorpusConfig | None = None

    def where(self, *, role: str | Sequence[str] | None = None,
              locale: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Rows of :attr:`table` with the given role(s) and locale(s)."""
        t = self.table
        if role is not None:
            roles = [role] if isinstance(role, str) else list(role)
            check(all(r in ROLES for r in roles), f"unknown role(s) {roles}; expected some of {ROLES}")
            t = t[t["role"].isin(roles)]
        if locale is not None:
            t = t[t["locale"].isin([locale] if isinstance(locale, str) else list(locale))]
        return t

    def summary(self) -> pd.DataFrame:
        """Per locale: clips, speakers, hours, mean duration, flagged clips (see :func:`summarize`)."""
        return summarize(self.table, self.skipped)

    def split_counts(self) -> pd.DataFrame:
        """Clips per role (rows) and locale (columns); see :func:`split_counts`."""
        return split_counts(self.table)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
def _is_release(folder: Path, tsv: str) -> bool:
    return (folder / tsv).is_file() or any(p.is_dir() and (p / tsv).is_file() for p in folder.iterdir())


def release_folder(data_dir: str | os.PathLike, *, tsv: str = "validated.tsv") -> Path:
    """The release (or locale) folder ``data_dir`` stands for (Chapter 1): itself, or the one
    release folder it holds, as ``langlab synth OUT`` writes ``OUT/<release>/<locale>/``.

    Raises :class:`DataError` if it holds several release folders (naming them) or none.
    """
    root = Path(data_dir).expanduser()
    check(root.exists(), f"corpus folder {root} does not exist; expected a Common Voice release folder "
                         f"(<release>/<locale>/{tsv}) or a locale folder", DataError)
    check(root.is_dir(), f"{root} is not a folder; expected a Common Voice release or locale folder", DataError)
    root = root.resolve()
    if _is_release(root, tsv):
        return root
    inner = [p for p in sorted(root.iterdir()) if p.is_dir() and _is_release(p, tsv)]
    check(len(inner) <= 1, f"{root} holds {len(inner)} release folders ({', '.join(p.name for p in inner)}); "
                           "name one of them", DataError)
    return inner[0] if inner else root


def find_locales(data_dir: str | os.PathLike, *, tsv: str = "validated.tsv",
                 locales: Sequence[str] | None = None) -> dict[str, Path]:
    """Locale folders of ``data_dir``: ``{locale: folder}``.

    ``data_dir`` is a release folder (holding ``<locale>/<tsv>``; the folder names are the
    locales), one locale folder (holding ``<tsv>`` itself; its locale is the TSV's ``locale``
    column, or else the folder name), or a folder holding one release folder
    (:func:`release_folder`). With ``locales``, each must be present.
    """
    root = release_folder(data_dir, tsv=tsv)
    if (root / tsv).exists():
        found = {_tsv_locale(root / tsv) or root.name: root}
    else:
        found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and (p / tsv).is_file()}
    if locales is None:
        check(bool(found), f"no {tsv} in {root} nor in any of its subfolders; expected a Common Voice "
                           f"release folder (<release>/<locale>/{tsv}, <locale>/clips/*.mp3) or a "
                           "locale folder", DataError)
        return found
    for code in locales:
        if code in found:
            continue
        if (root / code).is_dir():
            raise DataError(f"{root / code / tsv} missing: locale folder {root / code} has no {tsv}")
        raise DataError(f"locale folder {code!r} missing in {root} (found: "
                        f"{', '.join(found) or 'none'}); expected {root}/{code}/{tsv} and "
                        f"{root}/{code}/clips/")
    return {code: found[code] for code in locales}


def _tsv_locale(file: Path) -> str | None:
    """The ``locale`` of the first row of a TSV, if it has that column (else None)."""
    try:
        with open(file, encoding="utf-8") as fh:
            header = fh.readline().rstrip("\r\n").split("\t")
            first = fh.readline().rstrip("\r\n").split("\t")
    except (OSError, UnicodeDecodeError):
        return None  # read_tsv reports the problem
    if "locale" in header and len(first) == len(header):
        return first[header.index("locale")].strip() or None
    return None


def read_tsv(file: str | os.PathLike, *, locale: str | None = None) -> pd.DataFrame:
    """Read one Common Voice TSV: tab-separated, never quoted (``"`` is an ordinary character).

    Returns the TSV's columns as strings plus ``tsv_line`` (1-based line in the file). With
    ``locale``, the ``locale`` column is set to it (a locale folder holds one locale);
    otherwise a missing column is added empty.

    Raises
    ------
    DataError
        If the file is missing, not UTF-8 TSV, has rows with extra fields, or lacks one of
        :data:`REQUIRED_COLUMNS`.
    """
    file = Path(file)
    check(file.is_file(), f"{file} missing; expected a Common Voice TSV with columns "
                          f"{', '.join(REQUIRED_COLUMNS)}", DataError)
    try:
        with warnings.catch_warnings():  # more fields than the header has: an error, not a warning
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(file, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False,
                             na_filter=False, encoding="utf-8", on_bad_lines="error", engine="c",
                             index_col=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{file} is empty; expected a header row with {', '.join(REQUIRED_COLUMNS)}, "
                        "then one row per clip") from exc
    except (pd.errors.ParserError, pd.errors.ParserWarning, UnicodeDecodeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"{file} is not a readable Common Voice TSV ({reason}); expected UTF-8 text, "
                        "tab-separated, unquoted, one row per clip under a header row") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if "accent" in df.columns and "accents" not in df.columns:  # older releases
        df = df.rename(columns={"accent": "accents"})
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    check(not missing, f"{file} lacks column(s) {', '.join(missing)}; expected at least "
                       f"{', '.join(REQUIRED_COLUMNS)} (found: {', '.join(map(str, df.columns[:15]))})",
          DataError)
    df = df.fillna("")
    if locale:
        df["locale"] = locale
    elif "locale" not in df.columns:
        df["locale"] = ""
    df["tsv_line"] = np.arange(2, len(df) + 2)
    return df


def _clip_path(folder: Path, name: str) -> Path:
    path = folder / "clips" / name
    if not path.exists() and not Path(name).suffix and (folder / "clips" / f"{name}.mp3").exists():
        return folder / "clips" / f"{name}.mp3"  # the oldest releases list paths without extension
    return path


def _stable_unit(*parts: object) -> float:
    """A number in [0, 1) from a hash of ``parts``: an order that does not depend on row order."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def _probe_many(paths: list[str], n_jobs: int) -> list[tuple[audio.AudioInfo | None, str | None]]:
    def one(path):
        try:
            return audio.probe(path), None
        except audio.AudioError as exc:
            return None, exc.reason

    if len(paths) < 400 or n_jobs == 1:
        return [one(p) for p in paths]
    import joblib

    batches = [paths[i:i + 200] for i in range(0, len(paths), 200)]
    results = joblib.Parallel(n_jobs=n_jobs, prefer="threads")(
        joblib.delayed(lambda b: [one(p) for p in b])(b) for b in batches)
    return [r for batch in results for r in batch]


def _flags(info: audio.AudioInfo, path: str) -> str:
    flags = []
    if info.channels > 1:
        flags.append("stereo")
    if info.duration > LONG_SECONDS:
        flags.append("long")
    if info.duration < SHORT_SECONDS:
        flags.append("short")
    expected = _FORMATS.get(Path(path).suffix.lower().lstrip("."))
    if expected and not info.format.upper().startswith(expected):
        flags.append("other_format")
    if info.sample_rate != CV_SAMPLE_RATE:
        flags.append("other_rate")
    return ";".join(flags)


def read_corpus(data_dir: str | os.PathLike, *, locales: Sequence[str] | None = None,
                tsv: str = "validated.tsv", max_clips_per_locale: int | None = None, seed: int = 0,
                n_jobs: int = 2, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a Common Voice release (or locale) folder: the clip table and the skipped clips.

    Parameters
    ----------
    data_dir : str or path-like
        A release folder (``<release>/<locale>/<tsv>``) or one locale folder.
    locales : sequence of str or None
        Locales to read (each must be present); None reads every locale folder found.
    tsv : str
        Which TSV of each locale folder (default ``validated.tsv``).
    max_clips_per_locale : int or None
        Keep a seeded random subset of at most this many rows per locale, before any header is read.
    seed : int
        Seed of that subset.
    n_jobs : int
        Threads reading audio headers.

    Returns
    -------
    table : pandas.DataFrame
        One row per readable clip: :data:`TABLE_COLUMNS` without ``role``, then the TSV's other
        columns; ordered by locale, then TSV line.
    skipped : pandas.DataFrame
        ``path``, ``reason``, ``locale``: the rows left out (missing, empty or undecodable
        files, rows without a path or speaker, duplicate rows).
    """
    from tqdm.auto import tqdm

    folders = find_locales(data_dir, tsv=tsv, locales=locales)
    frames, skipped = [], []
    for code, folder in folders.items():
        df = read_tsv(folder / tsv, locale=code)
        if max_clips_per_locale is not None and len(df) > max_clips_per_locale:
            order = np.argsort([_stable_unit(seed, "subset", p) for p in df["path"]], kind="stable")
            df = df.iloc[np.sort(order[:max_clips_per_locale])]
        bad_path = df["path"].str.strip() == ""
        bad_speaker = (df["client_id"].str.strip() == "") & ~bad_path
        for line in df.loc[bad_path, "tsv_line"]:
            skipped.append({"path": f"{folder / tsv}:{line}", "reason": "row has an empty path", "locale": code})
        for p in df.loc[bad_speaker, "path"]:
            skipped.append({"path": str(_clip_path(folder, p)), "reason": "row has an empty client_id",
                            "locale": code})
        df = df[~bad_path & ~bad_speaker].copy()
        df["path"] = [str(_clip_path(folder, p.strip())) for p in df["path"]]
        dup = df["path"].duplicated()
        for p in df.loc[dup, "path"]:
            skipped.append({"path": p, "reason": f"listed again in {tsv} (duplicate row)", "locale": code})
        frames.append(df[~dup])
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    paths = table["path"].tolist()
    infos = []
    with tqdm(total=len(paths), desc="clip headers", unit="clip", disable=not progress, file=sys.stderr) as bar:
        for i in range(0, len(paths), 2000):
            infos.extend(_probe_many(paths[i:i + 2000], n_jobs))
            bar.update(min(2000, len(paths) - i))
    ok = np.array([info is not None for info, _ in infos], dtype=bool)
    for (info, reason), path, code in zip(infos, paths, table["locale"]):
        if info is None:
            skipped.append({"path": path, "reason": reason, "locale": code})
    good = [info for info, _ in infos if info is not None]
    table = table[ok].copy() if len(table) else table
    table["duration"] = [round(i.duration, 6) for i in good]
    table["sample_rate"] = [i.sample_rate for i in good]
    table["channels"] = [i.channels for i in good]
    table["format"] = [i.format for i in good]
    table["flags"] = [_flags(i, p) for i, p in zip(good, table["path"])]
    first = [c for c in TABLE_COLUMNS if c in table.columns]
    rest = [c for c in table.columns if c not in first and c != "tsv_line"]
    table = table[first + rest].reset_index(drop=True)
    table = table.astype({"duration": float, "sample_rate": int, "channels": int})
    table.attrs["locales"] = list(folders)  # also those without a single readable clip
    skipped = pd.DataFrame(skipped, columns=["path", "reason", "locale"])
    return table, skipped


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------
def _norm(sentence: str) -> str:
    return " ".join(str(sentence).split()).casefold()


def _round_robin(pool: pd.DataFrame, n: int | None) -> pd.Index:
    """Up to ``n`` rows of ``pool`` spread evenly over its speakers (columns ``_spk``, ``_clip``)."""
    if pool.empty:
        return pool.index
    ordered = pool.sort_values(["_spk", "_clip"], kind="stable")
    within = ordered.groupby("client_id", sort=False).cumcount()
    ordered = ordered.assign(_within=within.to_numpy()).sort_values(["_within", "_spk", "_clip"], kind="stable")
    return ordered.index if n is None else ordered.index[:n]


def _pick_speakers(pool: pd.DataFrame, ranked: list[str], taken: list[str], *, n_clips: int,
                   min_speakers: int) -> list[str]:
    counts = pool["client_id"].value_counts()
    chosen = [s for s in taken if s in counts.index]
    have = int(sum(counts[s] for s in chosen))
    new = []
    for s in ranked:
        if have >= n_clips and len(chosen) >= min_speakers:
            break
        if s in counts.index and s not in taken and s not in new:
            new.append(s)
            chosen.append(s)
            have += int(counts[s])
    return new


def assign_roles(table: pd.DataFrame, *, config: CorpusConfig) -> pd.Series:
    """The role of every clip of ``table`` (one of :data:`ROLES`), deterministic given the seed.

    1. **probe**: speakers are taken in a seeded random order until every locale has
       ``n_probe`` clips from at least ``min_probe_speakers`` of them; then ``n_probe`` clips
       per locale, spread evenly over those speakers. These speakers get no other role.
    2. **val**: the next speakers with main-locale clips, until ``n_val`` clips from at least
       ``min_val_speakers``; ``n_val`` of their main-locale clips.
    3. The remaining speakers are the *training speakers*. **pretrain**: ``n_pretrain`` of
       their clips in each locale; the main-locale ones avoid every sentence of ``val`` and
       ``probe``. **train**: their other main-locale clips whose sentence is in no other role
       (at most ``n_train``).

    The order of speakers and clips comes from a hash of the seed and the ``client_id`` or file
    name, so adding clips to a corpus does not reshuffle the others.

    Raises
    ------
    DataError
        If the corpus is too small for the requested sizes (the message says which).
    """
    check({"path", "locale", "client_id", "sentence", "duration"} <= set(table.columns),
          "table must have the columns path, locale, client_id, sentence, duration (from read_corpus)")
    cfg = config
    role = pd.Series("unused", index=table.index, dtype=object)
    eligible = table["locale"].isin(cfg.locales) & (table["duration"] >= cfg.min_duration)
    if cfg.max_duration is not None:
        eligible &= table["duration"] <= cfg.max_duration
    e = table[eligible].assign(
        _spk=[_stable_unit(cfg.seed, "speaker", s) for s in table.loc[eligible, "client_id"]],
        _clip=[_stable_unit(cfg.seed, "clip", Path(p).name) for p in table.loc[eligible, "path"]])
    ranked = list(e.drop_duplicates("client_id").sort_values(["_spk", "client_id"])["client_id"])

    def short(what: str, locale: str, have: int, need: str) -> DataError:
        return DataError(f"corpus too small: {what} of locale {locale!r} needs {need}, but only {have} "
                         f"are available; lower it in the preset's corpus config (CorpusConfig) or "
                         f"use a larger corpus")

    # 1. probe speakers and clips
    probe_spk: list[str] = []
    for code in cfg.locales:
        pool = e[e["locale"] == code]
        probe_spk += _pick_speakers(pool, ranked, probe_spk, n_clips=cfg.n_probe,
                                    min_speakers=cfg.min_probe_speakers)
    for code in cfg.locales:
        pool = e[(e["locale"] == code) & e["client_id"].isin(probe_spk)]
        n_spk = pool["client_id"].nunique()
        if len(pool) < cfg.n_probe or n_spk < cfg.min_probe_speakers:
            raise short("the probe set (n_probe, min_probe_speakers)", code, len(pool),
                        f"{cfg.n_probe} clips from >= {cfg.min_probe_speakers} speakers (got {n_spk} speakers)")
        role[_round_robin(pool, cfg.n_probe)] = "probe"
    # 2. validation speakers and clips
    main = e[(e["locale"] == cfg.main_locale) & ~e["client_id"].isin(probe_spk)]
    val_spk = _pick_speakers(main, ranked, [], n_clips=cfg.n_val, min_speakers=cfg.min_val_speakers)
    pool = main[main["client_id"].isin(val_spk)]
    if len(pool) < cfg.n_val or len(val_spk) < cfg.min_val_speakers:
        raise short("the validation set (n_val, min_val_speakers)", cfg.main_locale, len(pool),
                    f"{cfg.n_val} clips from >= {cfg.min_val_speakers} speakers outside the probe set")
    role[_round_robin(pool, cfg.n_val)] = "val"
    # 3. training speakers: pretrain, then train
    held_out = set(probe_spk) | set(val_spk)
    training = e[~e["client_id"].isin(held_out)]
    reserved = {_norm(s) for s in table.loc[role.isin(["val", "probe"]) & (table["locale"] == cfg.main_locale),
                                            "sentence"]}
    for code in cfg.locales:
        pool = training[training["locale"] == code]
        if code == cfg.main_locale:
            pool = pool[~pool["sentence"].map(_norm).isin(reserved)]
        if len(pool) < cfg.n_pretrain:
            raise short("the pre-training set (n_pretrain)", code, len(pool),
                        f"{cfg.n_pretrain} clips from the training speakers")
        role[_round_robin(pool, cfg.n_pretrain)] = "pretrain"
    reserved |= {_norm(s) for s in table.loc[(role == "pretrain") & (table["locale"] == cfg.main_locale),
                                             "sentence"]}
    pool = training[(training["locale"] == cfg.main_locale) & (role[training.index] == "unused")]
    pool = pool[~pool["sentence"].map(_norm).isin(reserved)]
    if pool.empty or (cfg.n_train is not None and len(pool) < cfg.n_train):
        raise short("the training set (n_train)", cfg.main_locale, len(pool),
                    f"{cfg.n_train or 1} clips from the training speakers")
    role[_round_robin(pool, cfg.n_train)] = "train"
    return role


def split_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Clips per role (rows, in :data:`ROLES` order) and locale (columns), plus speakers per role."""
    counts = pd.crosstab(table["role"], table["locale"]).reindex(
        [r for r in ROLES if r in set(table["role"])]).fillna(0).astype(int)
    counts["speakers"] = table.groupby("role")["client_id"].nunique().reindex(counts.index).astype(int)
    counts.columns.name = None
    return counts


def summarize(table: pd.DataFrame, skipped: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per locale: ``clips``, ``speakers``, ``hours``, ``mean_duration`` (s), ``flagged`` and
    ``skipped`` clips (what ``langlab info`` prints)."""
    skipped = skipped if skipped is not None else pd.DataFrame(columns=["path", "reason", "locale"])
    locales = sorted(set(table.attrs.get("locales", [])) | set(table["locale"])
                     | set(skipped.get("locale", pd.Series(dtype=str))))
    rows = []
    for code in locales:
        t = table[table["locale"] == code]
        rows.append({"locale": code, "clips": len(t), "speakers": int(t["client_id"].nunique()),
                     "hours": float(t["duration"].sum() / 3600), "mean_duration": float(t["duration"].mean())
                     if len(t) else float("nan"), "flagged": int((t["flags"] != "").sum()),
                     "skipped": int((skipped["locale"] == code).sum()) if len(skipped) else 0})
    return pd.DataFrame(rows, columns=["locale", "clips", "speakers", "hours", "mean_duration", "flagged",
                                       "skipped"])


# --------------------------------------------------------------------------------------------
# prepare: read + split, cached in the store
# --------------------------------------------------------------------------------------------
def _fingerprint(folders: dict[str, Path], tsv: str) -> dict:
    """What identifies a real corpus folder cheaply: its path, TSV sizes and times, clips folders."""
    out = {}
    for code, folder in folders.items():
        st = (folder / tsv).stat()
        clips = folder / "clips"
        out[code] = {"folder": str(folder), "tsv_size": st.st_size, "tsv_mtime_ns": st.st_mtime_ns,
                     "clips_mtime_ns": clips.stat().st_mtime_ns if clips.exists() else 0}
    return out


def _write_tsv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_bytes(path, df.to_csv(sep="\t", index=False, quoting=csv.QUOTE_NONE, escapechar=None,
                                       lineterminator="\n").encode("utf-8"))


def _read_store_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False,
                       na_filter=False, encoding="utf-8")


#: The compute roots of a clip-table entry (part of its store key, :mod:`langlab.codeversion`).
ROOTS = (read_corpus, assign_roles)


def prepare(preset, *, data_dir: str | os.PathLike | None = None, store: Store | None = None,
            n_jobs: int = 2, progress: bool = True) -> Clips:
    """The clip table and splits of a preset, read once and cached (Chapter 1).

    Parameters
    ----------
    preset : Preset or str
        A preset (``get_preset("book")``) or its name. Its ``corpus`` config says what to read
        and how to split; without ``data_dir`` its ``synth`` config says which embedded corpus.
    data_dir : str, path-like or None
        A Common Voice release folder or locale folder; None uses the embedded corpus
        (:func:`langlab.synth.embedded_corpus`, generated on first use).
    store : Store or None
        The store to cache the table in (stage ``"corpus"``).
    n_jobs : int
        Worker processes for synthesis, threads for header reading.
    progress : bool
        Progress bars of synthesis and header reading on stderr.

    Returns
    -------
    Clips
        ``clips.table`` (one row per usable clip, with ``role``), ``clips.skipped``,
        ``clips.root``, ``clips.key``.
    """
    from langlab import synth
    from langlab.presets import as_preset

    preset = as_preset(preset)
    cfg = preset.corpus
    check(isinstance(cfg, CorpusConfig), f"preset.corpus must be a CorpusConfig, got {type(cfg).__name__}")
    store = default_store(store)
    if data_dir is None:
        scfg = preset.synth
        missing = [c for c in cfg.locales if c not in scfg.languages]
        check(not missing, f"corpus locales {missing} are not in the embedded corpus's languages "
                           f"{scfg.languages}; add them to the preset's synth config")
        root = synth.embedded_corpus(scfg, store=store, n_jobs=n_jobs, progress=progress)
        synth_key = root.parent.name
        source, inputs = {"embedded": synth_key}, [synth_key]
    else:
        folders = find_locales(data_dir, tsv=cfg.tsv, locales=cfg.locales)
        root = release_folder(data_dir, tsv=cfg.tsv)
        source, inputs = {"data_dir": _fingerprint(folders, cfg.tsv)}, []
    entry = store.entry(STAGE, config={"corpus": cfg, "source": source}, inputs=inputs,
                        code=ROOTS)
    if not entry.exists():
        def fill(tmp: Path) -> dict:
            table, skipped = read_corpus(root, locales=cfg.locales, tsv=cfg.tsv,
                                         max_clips_per_locale=cfg.max_clips_per_locale, seed=cfg.seed,
                                         n_jobs=n_jobs, progress=progress)
            roles = assign_roles(table, config=cfg)
            table.insert(table.columns.get_loc("flags") + 1, "role", roles)
            rel = table.assign(path=[os.path.relpath(p, root) for p in table["path"]])
            _write_tsv(tmp / "clips.tsv", rel)
            _write_tsv(tmp / "skipped.tsv", skipped)
            return {"root": str(root), "clips": len(table), "skipped": len(skipped),
                    "roles": {k: int(v) for k, v in table["role"].value_counts().items()}}

        entry.write(fill, description=f"clip table of {root.name} ({', '.join(cfg.locales)})")
    table = _read_store_tsv(entry.path / "clips.tsv")
    table["path"] = [str(root / p) for p in table["path"]]
    table = table.astype({"duration": float, "sample_rate": int, "channels": int})
    skipped = _read_store_tsv(entry.path / "skipped.tsv")
    return Clips(table=table, skipped=skipped, root=root, key=entry.key, config=cfg)
