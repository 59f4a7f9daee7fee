"""SEI descriptors of one production segment's frames, computed as the run goes.

Per frame: the mechanism row (reduced fraction of each electrolyte cation, product fractions, metallic
clusters, their percolation dimension) and the reaction front's distance from the anode surface of the
run's first frame. Over the segment: the mobile ion's MSD by region (anode, reacted, electrolyte, by
where each atom was at the segment's start).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.dynamics import unwrap
from seiflow.analysis.front import anode_atoms, front_position, metal_surface, region_masks
from seiflow.analysis.mechanism import analyse_frame, mechanism_row
from seiflow.errors import InputError
from seiflow.schemas.production import SegmentAnalysis


def anode_reference(atoms: Atoms, chem: Chemistry) -> tuple[float | None, float | None]:
    """The anode surface and bottom along z in the run's first frame (None, None without anode atoms)."""
    try:
        origin = metal_surface(atoms, chem)
    except InputError:
        return None, None
    metal = anode_atoms(atoms, chem)
    return origin, float(atoms.positions[metal, 2].min())


def analyse_segment(frames: Sequence[Atoms], times_ps: Sequence[float], chem: Chemistry,
                    origin: float | None, bottom: float | None) -> SegmentAnalysis:
    """Descriptors of each frame, the front, and the mobile ion's MSD per region over the segment."""
    rows = [mechanism_row(analyse_frame(atoms, chem)) for atoms in frames]
    front = [front_position(atoms, origin, chem) if origin is not None else None for atoms in frames]
    mobile = chem.mobile[0] if chem.mobile else None
    msd: dict[str, float | None] = {}
    if mobile and origin is not None and bottom is not None and len(frames) >= 2:
        pos = unwrap(frames)
        for region, mask in region_masks(frames[0], mobile, origin, bottom, front[0]).items():
            d = pos[-1, mask] - pos[0, mask]
            msd[region] = round(float(np.mean(np.sum(d * d, axis=-1))), 4) if mask.any() else None
    return SegmentAnalysis(time_ps=[round(float(t), 6) for t in times_ps], rows=rows,
                           front_a=[None if x is None else round(x, 4) for x in front],
                           msd_a2=msd, msd_species=mobile)


def first_percolation(rows: Sequence[dict], times_ps: Sequence[float]) -> dict[str, float]:
    """Metallic element -> the first time its clusters span the cell in any direction."""
    out: dict[str, float] = {}
    for row, t in zip(rows, times_ps, strict=True):
        for key, value in row.items():
            if key.startswith("percolation_dim_") and value and value > 0:
                out.setdefault(key.removeprefix("percolation_dim_"), float(t))
    return out
