"""Exploration: LAMMPS runs with the DeePMD ensemble over a grid of seeds, ensembles and temperatures."""
