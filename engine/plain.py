"""Plain Python data from configs: OmegaConf containers and other mappings/sequences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def to_plain(x: Any) -> Any:
    """Deep copy of ``x`` as dicts (string keys, order kept), lists and scalars.

    Accepts OmegaConf DictConfig/ListConfig (interpolations resolve on access), dicts, lists and
    tuples; other values are returned unchanged. Every stage normalises its config with this.
    """
    if isinstance(x, Mapping):
        return {str(k): to_plain(v) for k, v in x.items()}
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        return [to_plain(v) for v in x]
    return x
