"""YAML reading for every data and config file: the safe loader, on libyaml when it is present.

``yaml.CSafeLoader`` builds the same Python objects as ``yaml.SafeLoader`` (only the scanner and
parser are C) and reads the mesh recipes, catalog and shape specs about ten times faster, which is
most of a worker's start-up.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(source: str | bytes | IO) -> Any:
    """Parse one YAML document (a string or an open file) with the safe loader; raises yaml.YAMLError."""
    return yaml.load(source, Loader=SAFE_LOADER)
