"""Labelling: reference energies, forces and stresses for frames (VASP, CP2K, a local reference)."""
