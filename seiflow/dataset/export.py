"""Export labelled frames to DeePMD's deepmd/npy format through dpdata, one system per composition.

Frames are grouped by composition (split by virial presence), each group's arrays are copied from their
raw float64 bytes into blocks, then into the system's arrays with frames in id order and atoms in type
order (one fancy index per block and species order), and each system is written with a single dpdata
``to("deepmd/npy")``. :func:`export_documents` does this
straight from stored frame documents (no :class:`LabelledFrame` per document), :func:`export_deepmd`
from frames; both write the same files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dpdata
import numpy as np

from seiflow.dataset.carved import CARVED_SUFFIX, finish_carved_system
from seiflow.dataset.convert import formula_of
from seiflow.errors import InputError
from seiflow.schemas.frame import LabelledFrame

F8 = np.dtype("<f8")


class _Species:
    """What export needs to know about one species list: formula, type order, types in that order."""

    __slots__ = ("formula", "order", "types")

    def __init__(self, species: list[str], type_map: list[str] | None):
        self.formula = formula_of(species)
        self.order: np.ndarray | None = None
        self.types: np.ndarray | None = None
        if type_map is not None:
            self.resolve(species, type_map)

    def resolve(self, species: list[str], type_map: list[str]) -> None:
        index = {name: i for i, name in enumerate(type_map)}
        try:
            types = np.array([index[s] for s in species], dtype=int)
        except KeyError:
            missing = sorted(set(species) - set(type_map))
            raise InputError(
                f"frame species {missing} are not in type_map {type_map}", "add them to system.type_map"
            ) from None
        self.order = np.argsort(types, kind="stable")
        self.types = types[self.order]


class _Rows:
    """Float64 rows of one width, copied into blocks as they come.

    No per-frame object is kept, so memory is about one copy of the data, handed back block by
    block when taken.
    """

    BLOCK = 1024

    def __init__(self, width: int):
        self.width = width
        self.blocks: list[np.ndarray] = []
        self.n = 0

    def add(self, raw: bytes) -> None:
        at = self.n % self.BLOCK
        if at == 0:
            self.blocks.append(np.empty((self.BLOCK, self.width), dtype=F8))
        self.blocks[-1][at] = np.frombuffer(raw, dtype=F8)
        self.n += 1

    def take(self, dest: np.ndarray, kinds: list[_Species] | None, shape: tuple[int, ...]) -> np.ndarray:
        """All rows as one array of ``(n, *shape)``, row ``i`` at ``dest[i]``.

        With ``kinds`` (one per row, in arrival order) rows are ``(natoms, 3)`` and their atoms go
        in type order.
        """
        out = np.empty((self.n, *shape), dtype=F8)
        start = 0
        while self.blocks:
            block = self.blocks.pop(0)
            stop = min(self.n, start + self.BLOCK)
            rows = block[: stop - start].reshape(stop - start, *shape)
            if kinds is None:
                out[dest[start:stop]] = rows
            else:
                here = kinds[start:stop]
                distinct = {id(k): k for k in here}
                if len(distinct) == 1:
                    out[dest[start:stop]] = rows[:, here[0].order]
                else:
                    which = np.array([id(k) for k in here])
                    for key, kind in distinct.items():
                        mine = np.flatnonzero(which == key)
                        out[dest[start + mine]] = rows[mine][:, kind.order]
            start = stop
        return out


class _Group:
    """Frames of one system (composition, virial or not), in arrival order."""

    def __init__(self, has_virial: bool, pbc: Any, natoms: int):
        self.has_virial = has_virial
        self.nopbc = not all(pbc)
        self.ids: list[str] = []  # sort keys; empty: keep the order frames were added in
        self.kinds: list[_Species] = []
        self.energies: list[float] = []
        self.cells, self.virials = _Rows(9), _Rows(9)
        self.coords, self.forces = _Rows(3 * natoms), _Rows(3 * natoms)
        self.weights = _Rows(natoms)  # carved frames: per-atom force weight (atom_pref)

    def add(self, kind: _Species, energy: float, cell: bytes, coords: bytes, forces: bytes,
            virial: bytes | None, frame_id: str | None = None, atom_pref: bytes | None = None) -> None:
        if frame_id is not None:
            self.ids.append(frame_id)
        self.kinds.append(kind)
        self.energies.append(float(energy))
        self.cells.add(cell)
        self.coords.add(coords)
        self.forces.add(forces)
        if self.has_virial:
            self.virials.add(virial)
        if atom_pref is not None:
            self.weights.add(atom_pref)

    def order(self) -> tuple[np.ndarray, np.ndarray]:
        """The system's frame order: ``perm`` (frame perm[i] goes to i) and ``dest`` (where each arrival goes)."""
        n = len(self.energies)
        perm = np.argsort(np.array(self.ids), kind="stable") if self.ids else np.arange(n)
        dest = np.empty(n, dtype=np.intp)
        dest[perm] = np.arange(n)
        return perm, dest

    def atom_pref(self) -> np.ndarray | None:
        """Carved groups: the weights as frames x atoms, in the system's frame and type order."""
        if not self.weights.n:
            return None
        n, (_, dest) = len(self.energies), self.order()
        natoms = len(self.kinds[0].types)
        return self.weights.take(dest, self.kinds, (natoms, 1)).reshape(n, natoms)


def _system(group: _Group, type_map: list[str]) -> dpdata.LabeledSystem:
    perm, dest = group.order()
    types = group.kinds[0].types  # every species order of a group has the same composition, so the same sorted types
    natoms = len(types)
    data = {
        "atom_names": list(type_map),
        "atom_numbs": [int((types == i).sum()) for i in range(len(type_map))],
        "atom_types": types,
        "orig": np.zeros(3),
        "cells": group.cells.take(dest, None, (3, 3)),
        "coords": group.coords.take(dest, group.kinds, (natoms, 3)),
        "energies": np.array(group.energies, dtype=float)[perm],
        "forces": group.forces.take(dest, group.kinds, (natoms, 3)),
    }
    if group.has_virial:
        data["virials"] = group.virials.take(dest, None, (3, 3))
    if group.nopbc:
        data["nopbc"] = True
    return dpdata.LabeledSystem(data=data)


class _Grouper:
    """Collects frames into systems; ``type_map`` None: resolved from the frames' elements at the end."""

    def __init__(self, type_map: list[str] | None):
        self.type_map = list(type_map) if type_map is not None else None
        self.kinds: dict[tuple[str, ...], _Species] = {}
        self.groups: dict[str, _Group] = {}

    def kind(self, species: list[str]) -> _Species:
        key = tuple(species)
        kind = self.kinds.get(key)
        if kind is None:
            kind = self.kinds[key] = _Species(species, self.type_map)
        return kind

    def add(self, species: list[str], pbc: Any, energy: float, cell: bytes, coords: bytes, forces: bytes,
            virial: bytes | None, frame_id: str | None = None, atom_pref: bytes | None = None) -> None:
        kind = self.kind(species)
        if atom_pref is not None:  # carved: forces only, in a system of their own
            key, virial = kind.formula + CARVED_SUFFIX, None
        else:
            key = kind.formula + ("" if virial is not None else "_novirial")
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(virial is not None, pbc, len(species))
        group.add(kind, energy, cell, coords, forces, virial, frame_id, atom_pref)

    def write(self, out_dir: Path) -> list[Path]:
        type_map = self.type_map
        if type_map is None:
            type_map = sorted({s for key in self.kinds for s in key})
            for key, kind in self.kinds.items():
                kind.resolve(list(key), type_map)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for key in sorted(self.groups):
            path = out_dir / key
            group = self.groups.pop(key)
            weights = group.atom_pref()  # before _system takes the rows
            _system(group, type_map).to("deepmd/npy", str(path))
            if weights is not None:
                finish_carved_system(path, weights)
            paths.append(path)
        return paths


def _f8_bytes(array: Any) -> bytes:
    return np.ascontiguousarray(array, dtype=F8).tobytes()


def system_from_frames(frames: list[LabelledFrame], type_map: list[str]) -> dpdata.LabeledSystem:
    """One dpdata ``LabeledSystem`` from frames of the same composition (atoms sorted by type)."""
    grouper = _Grouper(type_map)
    has_virial = all(f.virial is not None for f in frames)
    group = _Group(has_virial, frames[0].pbc, len(frames[0].species))
    for f in frames:
        group.add(grouper.kind(f.species), f.energy, _f8_bytes(f.cell), _f8_bytes(f.positions),
                  _f8_bytes(f.forces), _f8_bytes(f.virial) if has_virial else None)
    return _system(group, type_map)


def export_deepmd(
    frames: Iterable[LabelledFrame], out_dir: Path, type_map: list[str] | None = None
) -> list[Path]:
    """Write frames as deepmd/npy systems under ``out_dir``, one folder per composition.

    Frames without energy or forces are skipped. A composition whose frames do not all have a
    virial is split: frames without one go to ``<formula>_novirial``. Carved frames (with ``atom_pref``) go
    to ``<formula>_carved``, forces and weights only (:mod:`seiflow.dataset.carved`).
    """
    grouper = _Grouper(type_map)
    for f in frames:
        if f.energy is None or f.forces is None:
            continue
        grouper.add(f.species, f.pbc, f.energy, _f8_bytes(f.cell), _f8_bytes(f.positions),
                    _f8_bytes(f.forces), None if f.virial is None else _f8_bytes(f.virial),
                    atom_pref=None if f.atom_pref is None else _f8_bytes(f.atom_pref))
    return grouper.write(out_dir)


def _raw(doc: dict[str, Any] | None, fs) -> bytes | None:
    """Float64 bytes of an array document written by ``arrays.encode`` (inline or GridFS)."""
    if doc is None:
        return None
    if "data" in doc and doc.get("dtype") == F8.str:
        return bytes(doc["data"])  # pymongo gives inline binary as bytes already: no copy
    from seiflow.dataset import arrays

    return _f8_bytes(arrays.decode(doc, fs))


def export_documents(
    docs: Iterable[dict[str, Any]], out_dir: Path, type_map: list[str] | None = None, fs=None
) -> list[Path]:
    """:func:`export_deepmd` for stored frame documents (see ``FrameStore._to_doc``), in any order.

    Each system's frames are put in ``_id`` order, the order of ``FrameStore.find``.

    The arrays go from their stored bytes straight into each system's arrays; ``fs`` is the GridFS
    bucket of arrays stored there.
    """
    grouper = _Grouper(type_map)
    for doc in docs:
        stored = doc.get("arrays") or {}
        if doc.get("energy") is None or stored.get("forces") is None:
            continue
        grouper.add(
            doc["species"], doc.get("pbc", (True, True, True)), doc["energy"], _raw(stored["cell"], fs),
            _raw(stored["positions"], fs), _raw(stored["forces"], fs), _raw(stored.get("virial"), fs),
            doc["_id"], _raw(stored.get("atom_pref"), fs),
        )
    return grouper.write(out_dir)
