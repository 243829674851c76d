"""Loaded at start-up by every Python process whose PYTHONPATH names this folder (test children
only): applies the fault spec of SPATIALFORGE_TEST_FAULTS, see spatialforge_faults.py."""

import spatialforge_faults

spatialforge_faults.from_env()
