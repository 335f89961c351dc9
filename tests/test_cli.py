"""One convention for every `langlab` subcommand: option names, list syntax, one-line errors
(exit 2), and `langlab synth OUT` chaining into `info OUT` and `features OUT`."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from langlab import cli

SUBCOMMANDS = ("synth", "info", "features", "run")


def langlab(*args, home=None, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if home is not None:
        env["LANGLAB_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "langlab.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _options(name: str) -> set[str]:
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command").choices[name]
    return {opt for action in sub._actions for opt in action.option_strings}


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_the_shared_options(name):
    options = _options(name)
    assert {"-q", "--quiet", "--jobs"} <= options
    assert "--n-jobs" not in options
    if name != "info":
        assert "--preset" in options


@pytest.mark.parametrize("args, message", [
    (["synth", "OUT", "--speakers", "0"], "langlab synth: error: argument --speakers: expected a whole number >= 1, got '0'"),
    (["info"], "langlab info: error: the following arguments are required: CV_DIR"),
    (["features", "--preset", "huge"], "langlab features: error: argument --preset: invalid choice: 'huge'"),
    (["run", "--conditions", ","], "langlab run: error: argument --conditions: expected a comma-separated list"),
    (["run", "--jobs", "-3"], "langlab run: error: argument --jobs: expected a whole number >= 1 or -1"),
])
def test_usage_errors_are_one_line_with_exit_2(args, message):
    done = langlab(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr


def test_comma_lists():
    assert cli.comma_list("es, it,ja,es") == ("es", "it", "ja")


@pytest.mark.slow
def test_synth_output_chains_into_info_and_features(tmp_path):
    out = tmp_path / "corpus"
    done = langlab("synth", out, "--preset", "smoke", "--languages", "es,it,ja", "--quiet", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    release = next(out.iterdir())
    info = langlab("info", out, "--quiet")
    assert info.returncode == 0, info.stderr
    assert f"using release folder {release}" in info.stderr
    assert "total: 90 clips" in info.stdout
    features = langlab("features", out, "--preset", "smoke", "--quiet", "--store", tmp_path / "store")
    assert features.returncode == 0, features.stderr
    assert f"using release folder {release}" in features.stderr
    assert "spectrograms" in features.stdout
    again = langlab("info", tmp_path / "nowhere")
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert again.stderr.startswith("langlab info: error: corpus folder")
