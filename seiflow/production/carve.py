"""Carving: a DFT-sized periodic box cut from a large production frame around uncertain atoms.

The box is orthorhombic, centred on the atoms to learn (the *core*, a cube of half-width ``core``
around the centre), with half-width ``H = core + cutoff + buffer``. Why the core is undisturbed: every
atom within ``cutoff`` of a core atom lies inside the box (it is within ``core + cutoff < H`` of the
centre along each axis), at the same relative position; and no periodic image of the box comes closer
than ``2H - (core + H) = cutoff + buffer`` to a core atom, so the images add no neighbour within the
cut-off. The ``buffer`` is for the reference, whose reach is longer than the model's cut-off (DFT's
electrons; a message-passing reference's receptive field): the measured core-force error against the
whole frame says how long it must be (``tests/production/test_carve.py``).

An axis along which the frame is too thin for the box (a slab's short in-plane period) is kept whole when
its lattice vector is perpendicular to the other two (along x, y or z): the box takes the frame's own period there, so every atom has its true images along it and the core
extends through it.

Atoms outside the core are labelled with the box but masked out of the force loss (weight 0, DeePMD's
per-atom force prefactor ``atom_pref``): their environments are cut. Atoms whose periodic image across a
face comes closer than ``min_distance`` are dropped (they are never in the core), so the reference does
not see overlapping atoms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from seiflow.analysis.structure import plane_spacings
from seiflow.dataset.carved import core_weights
from seiflow.errors import InputError


@dataclass
class CarvedCell:
    """A carved box, where each of its atoms came from, and which of them the loss may use."""

    atoms: Atoms
    source_indices: np.ndarray  # index in the frame of each carved atom
    core: np.ndarray  # bool per carved atom: environment intact within the cut-off (force weight 1)
    centre: np.ndarray  # Cartesian centre of the box in the frame, Å
    half_width: float  # of the box along each cut axis, Å
    core_half_width: float | list[float]  # of the core cube, Å; per axis when an axis is kept whole

    @property
    def atom_pref(self) -> np.ndarray:
        """DeePMD's per-atom force prefactor: 1 on the core, 0 on the cut atoms around it."""
        return self.core.astype(float)


def minimum_image(frame: Atoms, centre: np.ndarray) -> np.ndarray:
    """Displacement of every atom from ``centre`` to its nearest periodic image, Å."""
    cell = np.asarray(frame.cell, dtype=float)
    frac = np.linalg.solve(cell.T, (frame.positions - centre).T).T
    frac -= np.round(frac)
    return frac @ cell


def carve(frame: Atoms, centres: Sequence[int], cutoff: float, buffer: float, core: float | None = None,
          min_distance: float = 1.0) -> CarvedCell:
    """The box around atoms ``centres`` of ``frame`` (see the module's docstring for the geometry).

    ``core``: half-width of the core cube, Å (default: the centres' extent plus 0.5 Å, so every centre is
    in it).
    """
    if not all(frame.pbc):
        raise InputError("carving needs a frame periodic in x, y and z", "pass a production frame")
    if not len(centres):
        raise InputError("no atoms to carve around", "pass the uncertain atoms' indices")
    idx = np.asarray(centres, dtype=int)
    anchor = frame.positions[idx[0]]
    spread = minimum_image(frame, anchor)[idx]
    centre = anchor + spread.mean(axis=0)
    if core is None:
        core = float(np.abs(spread - spread.mean(axis=0)).max()) + 0.5
    half = core + cutoff + buffer
    widths = plane_spacings(frame.cell)
    whole = 2 * half >= widths  # axes the frame is too thin to cut along: kept whole, with its own period
    if whole.any() and (whole.all() or not all(_separable(frame.cell, i) for i in np.flatnonzero(whole))):
        raise InputError(f"a box of {2 * half:.1f} Å (core {core:.1f} + cut-off {cutoff:g} + buffer {buffer:g}, "
                         f"twice) does not fit the frame ({widths.min():.1f} Å wide)"
                         + ("" if whole.all() else "; its thin axis is not perpendicular to the other two, so it "
                            "cannot be kept whole"), "label the frame whole, or carve with a shorter buffer")
    lengths = np.where(whole, widths, 2 * half)
    d = minimum_image(frame, centre)
    inside = np.all(np.abs(d[:, ~whole]) < half, axis=1)
    source = np.flatnonzero(inside)
    box = Atoms(np.asarray(frame.get_chemical_symbols())[inside].tolist(), positions=d[inside] + lengths / 2,
                cell=np.diag(lengths), pbc=True)
    box.wrap()
    core_widths = np.where(whole, lengths, core)  # a whole axis cuts nothing: every atom is core along it
    in_core = core_weights(box.positions, box.cell, core_widths).astype(bool)  # the rule the stored weights use
    keep = _without_overlaps(box, in_core, min_distance)
    return CarvedCell(atoms=box[keep], source_indices=source[keep], core=in_core[keep], centre=centre,
                      half_width=half, core_half_width=core if not whole.any() else core_widths.tolist())


def _separable(cell, axis: int) -> bool:
    """True when lattice vector ``axis`` lies along that Cartesian axis and the other two are perpendicular to it."""
    m = np.asarray(cell, dtype=float)
    off = np.delete(m[axis], axis).tolist() + np.delete(m[:, axis], axis).tolist()
    return bool(np.allclose(off, 0.0, atol=1e-6))


def _without_overlaps(box: Atoms, core: np.ndarray, min_distance: float) -> np.ndarray:
    """Mask of atoms kept: one of each pair closer than ``min_distance`` (across a face) dropped, never a core atom."""
    keep = np.ones(len(box), dtype=bool)
    dist = box.get_all_distances(mic=True)
    np.fill_diagonal(dist, np.inf)
    for i, j in zip(*np.nonzero(np.triu(dist < min_distance)), strict=True):
        if keep[i] and keep[j]:
            drop = j if not core[j] else i
            if core[drop]:
                raise InputError(f"core atoms {i} and {j} of the carved box are {dist[i, j]:.2f} Å apart",
                                 "the frame itself has overlapping atoms: check its MD health")
            keep[drop] = False
    return keep
