"""pyproject.toml and environment.yml list the same dependencies, with the same ranges, and
requirements.lock pins the whole tree inside them (langlab.environment)."""
import tomllib

import pytest
import yaml


def _normalise(requirement: str) -> str:
    return requirement.replace(" ", "").lower()


def test_environment_yml_matches_pyproject(root):
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    declared = {_normalise(r) for r in pyproject["project"]["dependencies"]}
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_normalise(r) for r in pip_section if not r.startswith("-e")}
    assert listed == declared, (f"only in environment.yml: {sorted(listed - declared)}; "
                                f"only in pyproject.toml: {sorted(declared - listed)}")
    assert "python=3.11" in env["dependencies"]
    assert "-e ." in pip_section, "environment.yml must install the package itself"


def test_jupyter_book_is_pinned_below_2(root):
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    jb = [r for r in pyproject["project"]["dependencies"] if r.startswith("jupyter-book")]
    assert jb and "<2" in jb[0], "jupyter-book 2.x is a different tool; pin <2"


# --------------------------------------------------------------------------------------------
# The lock: requirements.lock pins the whole tree, inside pyproject's ranges
# --------------------------------------------------------------------------------------------
def test_lock_satisfies_pyproject_and_environment_yml(root):
    from langlab.environment import range_problems, read_lock

    pins = read_lock(root / "requirements.lock")
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    assert range_problems(declared, pins) == []
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert range_problems([r for r in pip_section if not r.startswith("-e")], pins) == []
    # the whole tree, not only the direct dependencies: TensorFlow's own dependencies are pinned
    assert {"tensorflow-cpu", "keras", "scikit-learn", "numpy", "protobuf", "h5py", "filelock"} <= set(pins)
    text = (root / "requirements.lock").read_text()
    assert "--python-version 3.11" in text and "--generate-hashes" in text
    assert text.count("--hash=sha256:") >= len(pins), "every pin needs its hashes"


def test_makefile_installs_from_the_lock(root):
    makefile = (root / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    assert "\nlock:" in makefile and "make lock" in (root / "README.md").read_text()


def test_range_problems_names_what_is_wrong():
    from langlab.environment import range_problems

    pins = {"numpy": "2.4.6", "keras": "2.15.0"}
    problems = range_problems(["numpy>=1.26,<3", "keras>=3.0,<4", "dask[distributed]>=2024.1"], pins)
    assert problems == ["keras==2.15.0 in the lock is outside the declared range keras>=3.0,<4",
                        "dask is declared (dask[distributed]>=2024.1) but not in the lock"]


def test_lock_table_flags_every_difference(tmp_path):
    import importlib.metadata

    from langlab.environment import lock_table, read_lock

    numpy_version = importlib.metadata.version("numpy")
    lock = tmp_path / "requirements.lock"
    lock.write_text("# via uv\n"
                    f"NumPy=={numpy_version} \\\n    --hash=sha256:00\n"
                    "pyyaml==0.0.1 \\\n    --hash=sha256:11\n    # via langlab\n"
                    "surely_not_installed_pkg==1.0\n")
    assert read_lock(lock) == {"numpy": numpy_version, "pyyaml": "0.0.1", "surely-not-installed-pkg": "1.0"}
    table = lock_table(lock)
    assert list(table.columns) == ["package", "locked", "running", "same"]
    same = dict(zip(table["package"], table["same"]))
    assert same == {"numpy": "yes", "pyyaml": "DIFFERS", "surely-not-installed-pkg": "DIFFERS"}
    assert list(table["same"])[:2] == ["DIFFERS", "DIFFERS"], "differences come first"
    assert table.set_index("package").loc["surely-not-installed-pkg", "running"] == "not installed"


def test_missing_lock_is_a_clear_error(tmp_path):
    from langlab.environment import read_lock
    from langlab.errors import DataError

    with pytest.raises(DataError, match="no lock file"):
        read_lock(tmp_path / "requirements.lock")
