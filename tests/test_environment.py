"""pyproject.toml and environment.yml list the same dependencies, with the same ranges."""
import tomllib

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
