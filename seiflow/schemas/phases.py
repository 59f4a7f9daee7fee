"""The bundled bulk phases: names, CIF files, formulas and space groups (see data/structures/PROVENANCE.md).

The catalogue sits with the schemas so that the campaign schema can check phase names without
importing :mod:`seiflow.structures`, which loads and relaxes the structures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "structures"  # the CIF files and PROVENANCE.md


@dataclass(frozen=True)
class BulkEntry:
    """A bundled bulk phase: its CIF file, formula and space group (see PROVENANCE.md)."""

    name: str
    filename: str
    formula: str
    space_group: str
    note: str


BULKS: dict[str, BulkEntry] = {
    entry.name: entry
    for entry in (
        BulkEntry("Li", "Li_bcc_Im-3m_a3.51.cif", "Li", "Im-3m", "bcc Li metal, experimental a = 3.51 Å"),
        BulkEntry(
            "Li3InCl6",
            "Li3InCl6_C2m_ordered_conv20_OBELiXde5.cif",
            "Li3InCl6",
            "C2/m",
            "20-atom conventional cell, OBELiX de5 (ICSD 89617), In ordered on 2a",
        ),
        BulkEntry(
            "Li3InCl6-ortho60",
            "Li3InCl6_C2m_ordered_orthoish60_OBELiXde5.cif",
            "Li3InCl6",
            "C2/m",
            "60-atom nearly orthogonal supercell of Li3InCl6",
        ),
        BulkEntry("In", "In_I4mmm_a3.2523_c4.9461.cif", "In", "I4/mmm", "In metal, experimental a, c"),
        BulkEntry("LiCl", "LiCl_Fm-3m_a5.1295.cif", "LiCl", "Fm-3m", "rock salt, experimental a"),
    )
}
