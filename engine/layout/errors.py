"""Errors raised by the layout samplers."""

from __future__ import annotations


class LayoutInfeasibleError(ValueError):
    """A layout request that cannot be met (too many objects for the room, sizes that never fit).

    The message states what failed and what to relax (fewer objects, a larger room, a smaller
    clearance, more categories). Raised up front when a bound proves the request impossible,
    otherwise after the bounded retries are spent; never after an unbounded search.
    """
