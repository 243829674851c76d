"""Where the project's data lives: the YAML folders ``conf/``, ``scenes/`` and ``templates/``.

In a checkout (and an editable install) they are the repository's own folders, next to
``engine/``. A wheel or a non-editable install carries copies inside the package, under
``engine/_data/`` (setup.py copies them when the package is built), so the engine finds its
catalog, templates and configs wherever it is installed. This module is the one place that
knows; everything else asks :func:`data_dir`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(str(resources.files(__package__))).resolve()
REPO_ROOT = PACKAGE_DIR.parent  # the checkout's root (meaningful only in a checkout)
DATA_FOLDERS = ("conf", "scenes", "templates")


def data_dir(name: str) -> Path:
    """Absolute path of data folder ``name`` (one of ``DATA_FOLDERS``): the packaged copy
    ``engine/_data/<name>`` when the package carries one, else ``<checkout>/<name>``.

    Raises FileNotFoundError naming both places when neither exists."""
    if name not in DATA_FOLDERS:
        raise ValueError(f"data_dir: unknown data folder {name!r}; known: {DATA_FOLDERS}")
    packaged = PACKAGE_DIR / "_data" / name
    if packaged.is_dir():
        return packaged
    repo = REPO_ROOT / name
    if repo.is_dir():
        return repo
    raise FileNotFoundError(f"data folder {name!r} is neither at {packaged} (installed package) nor at {repo} "
                            "(checkout); fix: reinstall the package (pip install .) or run from a checkout")


def config_groups(config_dir: str | Path | None = None) -> dict[str, list[str]]:
    """Hydra config group -> its options (the YAML files of ``<config_dir>/<group>/``, sorted);
    ``config_dir`` defaults to :data:`CONF_DIR`."""
    root = Path(config_dir or CONF_DIR)
    return {d.name: sorted(p.stem for p in d.glob("*.yaml")) for d in sorted(root.iterdir())
            if d.is_dir() and any(d.glob("*.yaml"))}


CONF_DIR = data_dir("conf")
SCENES_DIR = data_dir("scenes")
TEMPLATES_DIR = data_dir("templates")
