"""Validation, structure, mechanism, transport, mechanics and production analysis, and the campaign report.

Each module is one concept: :mod:`validation` (errors vs a reference), :mod:`rdf` (partial RDFs and their
agreement score), :mod:`mechanism` (cation reduction, product phases, metallic clusters, percolation), :mod:`front` (reaction front),
:mod:`dynamics` (MSD, diffusivity, Arrhenius), :mod:`elastic` (strain-stress elastic constants),
:mod:`production` (LAMMPS hand-off and cost), :mod:`plots` and :mod:`report`.
"""
