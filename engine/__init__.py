"""SpatialForge: a synthetic spatial data engine.

Conventions (see docs/conventions.md): world frame right-handed, metres, +Z up, floor at z=0.
Cameras are pinhole with OpenCV axes (+X right, +Y down, +Z forward).
"""

__version__ = "0.1.0"
ENGINE_NAME = "spatialforge"
