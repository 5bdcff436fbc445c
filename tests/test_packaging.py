"""Installing songforge prints no setuptools deprecation banner: the licence is an SPDX expression."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPLY = """
from setuptools.config import pyprojecttoml
from setuptools.dist import Distribution
distribution = Distribution()
pyprojecttoml.apply_configuration(distribution, "pyproject.toml")
print(distribution.metadata.license_expression)
"""


def test_pyproject_applies_without_a_deprecation_warning():
    run = subprocess.run([sys.executable, "-W", "error", "-c", APPLY], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]  # -W error: setuptools' banner would be an exception
    assert run.stdout.strip() == "Apache-2.0"
