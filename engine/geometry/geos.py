"""Direct GEOS calls for the hot loops of the layout and the camera sampler.

``shapely.polygons``, ``shapely.multipoints`` and friends check and convert their arguments in
Python on every call, which costs more than the GEOS work for a single quadrilateral. These
helpers call ``shapely.lib`` (shapely's GEOS ufuncs) with the arguments the public functions
would pass by default, so they build the same geometries and return the same numbers.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import lib
from shapely.creation import HandleNaN

_ALLOW_NAN = np.intc(HandleNaN.allow)  # the default handle_nan of shapely.points / linearrings
_NO_HOLES = np.empty((0,), dtype=object)
_MULTIPOINT = np.intc(shapely.GeometryType.MULTIPOINT)


def polygon(ring: np.ndarray):
    """``shapely.polygons(ring)`` for one ring of (M, 2) float64 coordinates (metres, any units)."""
    return lib.polygons(lib.linearrings(ring, _ALLOW_NAN), _NO_HOLES)


def distances(geometry, others: list) -> np.ndarray:
    """``shapely.distance(geometry, others)``: (len(others),) distances from one geometry."""
    return lib.distance(geometry, others)


def hull_areas(points: np.ndarray, xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``points`` (K, M, 2): the area of the convex hull of its M points and the area of
    that hull clipped to the rectangle [xmin, xmax] x [ymin, ymax], as
    ``shapely.area(shapely.convex_hull(shapely.multipoints(points)))`` and
    ``shapely.area(shapely.clip_by_rect(hulls, xmin, ymin, xmax, ymax))`` give them."""
    hulls = lib.convex_hull(lib.create_collection(lib.points(points, _ALLOW_NAN), _MULTIPOINT))
    inner = lib.clip_by_rect(hulls, np.double(xmin), np.double(ymin), np.double(xmax), np.double(ymax))
    return lib.area(hulls), lib.area(inner)
