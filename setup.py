"""Build hook (the rest of the metadata is in pyproject.toml): a built package carries the
YAML data folders conf/, scenes/ and templates/ as engine/_data/, so that a wheel or a
non-editable install finds its catalog, templates and configs (engine/paths.py)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("conf", "scenes", "templates")  # = engine.paths.DATA_FOLDERS


class BuildPyWithData(build_py):
    """build_py, then copy the data folders into the built package."""

    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        for name in DATA_FOLDERS:
            dst = Path(self.build_lib) / "engine" / "_data" / name
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(root / name, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithData})
