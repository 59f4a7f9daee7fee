"""ASE frames in freud's conventions: neighbour bonds, partial RDFs and clusters computed by freud.

freud (``freud-analysis``) does the work in compiled, single-precision code: the neighbour search
(:class:`freud.locality.AABBQuery`), the RDF histogram (:class:`freud.density.RDF`) and the connected
components (:class:`freud.cluster.Cluster`). :class:`FreudFrame` puts one ASE frame into freud's frame:

- freud's box is upper triangular (LAMMPS style: a along x, b in the xy plane, tilt factors xy, xz, yz)
  and centred on the origin. Any ASE cell (rows a, b, c, any orientation or handedness) maps to the box
  with the same lengths and angles, and the atoms through their fractional coordinates wrapped into
  [0, 1), so every distance is that of the original cell (a rotation, or a mirror for a left-handed cell).
- freud refuses a cutoff of half the box's smallest plane spacing or more. Such a cell is replicated
  into a supercell on the points side only (the query points stay the frame's atoms), so every periodic
  image within the cutoff is still found exactly once.
- An axis without periodic boundary conditions (or a cell without volume) is padded so that no image
  comes within the cutoff.

Bonds come back as :class:`Pairs` in the frame's own atom indices, with the integer image offset of
``j`` relative to the positions as given and the distance recomputed in double precision from them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import freud
import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from seiflow.errors import InputError

_QUERY = {"mode": "ball"}
_NO_PAIRS_SHIFT = np.zeros((0, 3), dtype=int)


@dataclass
class Pairs:
    """Directed neighbour pairs i -> j within a cutoff: ``j`` seen from ``i`` through image ``shift``."""

    i: np.ndarray
    j: np.ndarray
    d: np.ndarray
    shift: np.ndarray  # (n, 3) integer image offsets of j

    def select(self, mask: np.ndarray) -> Pairs:
        """The pairs where ``mask`` is true."""
        return Pairs(self.i[mask], self.j[mask], self.d[mask], self.shift[mask])

    @classmethod
    def empty(cls) -> Pairs:
        """No pairs."""
        return cls(np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros(0), _NO_PAIRS_SHIFT)


def symbols_of(atoms: Atoms) -> np.ndarray:
    """Chemical symbols as a numpy string array."""
    return np.asarray(atoms.get_chemical_symbols())


def check_species(species: str) -> int:
    """The atomic number of ``species``; :class:`InputError` unless it is a chemical symbol."""
    if species not in atomic_numbers:
        raise InputError(f"unknown element {species!r}", "use chemical symbols, as in system.type_map")
    return int(atomic_numbers[species])


def upper_triangular(cell: np.ndarray) -> np.ndarray:
    """The LAMMPS/freud box matrix of ``cell`` (rows a, b, c): columns a, b, c, upper triangular.

    It has the lengths and angles of ``cell``, so fractional coordinates carry over unchanged.
    """
    a, b, c = np.asarray(cell, dtype=float)
    la, lb, lc = (float(np.linalg.norm(v)) for v in (a, b, c))
    xy = float(a @ b) / la
    xz = float(a @ c) / la
    ly = np.sqrt(lb**2 - xy**2)
    yz = (float(b @ c) - xy * xz) / ly
    lz = np.sqrt(max(lc**2 - xz**2 - yz**2, 0.0))
    return np.array([[la, xy, xz], [0.0, ly, yz], [0.0, 0.0, lz]])


def plane_spacings(cell: np.ndarray) -> np.ndarray:
    """Distance between the lattice planes spanned by (b, c), (c, a) and (a, b)."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(float(np.linalg.det(cell)))
    return np.array([volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                     for k in range(3)])


def _working_cell(atoms: Atoms, r_max: float) -> tuple[np.ndarray, np.ndarray]:
    """A cell in which the frame is periodic along every axis, and the fractional coordinates in it.

    Periodic axes keep their lattice vector. A non-periodic axis gets a vector along the old one, long
    enough that the atoms plus a gap of 2 * r_max + 1 Å fit; a cell without volume becomes the atoms'
    bounding box padded the same way. Fractional coordinates are not wrapped.
    """
    cell = np.array(atoms.cell[:], dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    pos = np.asarray(atoms.positions, dtype=float)
    if abs(np.linalg.det(cell)) < 1e-6:
        low = pos.min(axis=0) if len(pos) else np.zeros(3)
        span = np.ptp(pos, axis=0) if len(pos) else np.zeros(3)
        cell = np.diag(span + 2.0 * r_max + 1.0)
        return cell, (pos - low) / np.diag(cell)
    frac = np.linalg.solve(cell.T, pos.T).T
    if pbc.all():
        return cell, frac
    spacing = plane_spacings(cell)
    for k in np.flatnonzero(~pbc):
        low = frac[:, k].min() if len(frac) else 0.0
        span = np.ptp(frac[:, k]) if len(frac) else 0.0
        scale = span + (2.0 * r_max + 1.0) / spacing[k]
        frac[:, k] = (frac[:, k] - low) / scale
        cell[k] *= scale
    return cell, frac


def replicas_needed(cell: np.ndarray, r_max: float) -> tuple[int, int, int]:
    """Repeats per axis so that ``r_max`` stays below half the supercell's smallest plane spacing."""
    need = 2.0 * r_max * (1.0 + 1e-5) + 1e-4  # margin for freud's single precision
    reps = np.floor(need / plane_spacings(cell)).astype(int) + 1
    return int(reps[0]), int(reps[1]), int(reps[2])


@functools.lru_cache(maxsize=8)
def _histogram(nbins: int, r_max: float) -> freud.density.RDF:
    """One freud RDF accumulator per grid, reused (``compute`` resets it; building one costs ms)."""
    return freud.density.RDF(bins=nbins, r_max=r_max)


def freud_box(matrix: np.ndarray, reps: tuple[int, int, int] = (1, 1, 1)) -> freud.box.Box:
    """The freud box of an upper-triangular ``matrix`` repeated ``reps`` times along a, b, c."""
    return freud.box.Box(
        Lx=matrix[0, 0] * reps[0], Ly=matrix[1, 1] * reps[1], Lz=matrix[2, 2] * reps[2],
        xy=matrix[0, 1] / matrix[1, 1], xz=matrix[0, 2] / matrix[2, 2], yz=matrix[1, 2] / matrix[2, 2],
    )


@dataclass
class FreudFrame:
    """One ASE frame in freud's box frame, for neighbour queries up to ``r_max`` Å.

    Examples
    --------
    >>> from ase.build import bulk
    >>> salt = bulk("NaCl", "rocksalt", a=5.64).repeat(3)
    >>> cation, anion = salt.get_chemical_symbols()[:2]
    >>> frame = FreudFrame.from_atoms(salt, r_max=3.0)
    >>> sorted(set(frame.count(cation, anion, 3.0).tolist()))
    [6]
    """

    atoms: Atoms
    r_max: float
    cell: np.ndarray  # (3, 3) working cell, rows a, b, c (float64)
    frac: np.ndarray  # (N, 3) unwrapped fractional coordinates in ``cell``
    matrix: np.ndarray  # freud's upper-triangular matrix of ``cell`` (columns a, b, c)
    reps: tuple[int, int, int]
    box: freud.box.Box  # the (possibly replicated) box the points live in
    numbers: np.ndarray  # atomic numbers
    volume: float  # of the frame's cell as ASE gives it, Å^3 (0 without one): the RDF's normalisation
    _cache: dict = field(default_factory=dict, repr=False)  # per-species arrays, trees, bond lists

    @classmethod
    def from_atoms(cls, atoms: Atoms, r_max: float) -> FreudFrame:
        """Wrap ``atoms`` into freud's frame for queries up to ``r_max`` Å."""
        if not r_max > 0:
            raise InputError(f"cutoff must be positive, got {r_max}", "pass a cutoff in Å, e.g. 3.2")
        cell, frac = _working_cell(atoms, float(r_max))
        matrix = upper_triangular(cell)
        reps = replicas_needed(cell, float(r_max))
        volume = abs(float(np.linalg.det(atoms.cell[:])))
        return cls(atoms, float(r_max), cell, frac, matrix, reps, freud_box(matrix, reps),
                   np.asarray(atoms.numbers), volume)

    def _cached(self, key: tuple, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def indices(self, species: str) -> np.ndarray:
        """Atom indices of one element, in index order."""
        return self._cached(("ids", species), lambda: np.flatnonzero(self.numbers == check_species(species)))

    def _positions(self, frac: np.ndarray, reps: tuple[int, int, int] | None = None) -> np.ndarray:
        """Positions in freud's frame (float32, box centred on 0) of fractional coordinates.

        The coordinates are fractions of the box repeated ``reps`` times (default: the supercell).
        """
        scaled = self.matrix * np.asarray(reps or self.reps, dtype=float)  # columns times the repeats
        return np.ascontiguousarray(((frac - 0.5) @ scaled.T).astype(np.float32))

    def _wrapped(self, species: str) -> np.ndarray:
        """Fractional coordinates of the atoms of ``species`` wrapped into [0, 1)."""
        wrapped = self.frac[self.indices(species)] % 1.0
        wrapped[wrapped >= 1.0] = 0.0  # -1e-17 % 1.0 == 1.0
        return wrapped

    def query_points(self, species: str) -> np.ndarray:
        """The atoms of ``species`` (the frame itself, first replica) as freud query points."""
        return self._cached(("query", species),
                            lambda: self._positions(self._wrapped(species) / np.asarray(self.reps)))

    def points(self, species: str) -> freud.locality.AABBQuery:
        """An AABB tree of the atoms of ``species`` and their replicas.

        Atom k of replica r is point ``r * n_species + k``; replica 0 is the frame itself.
        """
        def build() -> freud.locality.AABBQuery:
            if self.reps == (1, 1, 1):
                return freud.locality.AABBQuery(self.box, self.query_points(species))
            grid = np.stack(np.meshgrid(*(np.arange(n) for n in self.reps), indexing="ij"), -1)
            frac = (self._wrapped(species)[None, :, :] + grid.reshape(-1, 1, 3)) / np.asarray(self.reps)
            return freud.locality.AABBQuery(self.box, self._positions(frac.reshape(-1, 3)))

        return self._cached(("tree", species), build)

    def neighbor_list(self, a: str, b: str, cutoff: float) -> freud.locality.NeighborList | None:
        """The bonds freud finds from each ``a`` atom to the ``b`` points within ``cutoff``.

        None if either element is absent. Indices are into the species' own arrays, the ``b`` side
        with replicas (see :meth:`points`).
        """
        if cutoff > self.r_max:
            raise InputError(f"cutoff {cutoff} is beyond this frame's r_max {self.r_max}",
                             "build the FreudFrame with r_max >= the largest cutoff")
        if not cutoff > 0:
            raise InputError(f"cutoff must be positive, got {cutoff}", "pass a cutoff in Å, e.g. 3.2")
        if self.indices(a).size == 0 or self.indices(b).size == 0:
            return None
        args = {**_QUERY, "r_max": float(cutoff), "exclude_ii": a == b}
        return self._cached(("bonds", a, b, float(cutoff)),
                            lambda: self.points(b).query(self.query_points(a), args).toNeighborList())

    def index_pairs(self, a: str, b: str, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices (i of ``a``, j of ``b``) of the pairs closer than ``cutoff`` (no offsets).

        The smaller element is the query side (faster); the pairs are not sorted by ``i`` then.
        """
        if a != b and self.indices(a).size > self.indices(b).size:
            j, i = self._ij(self.neighbor_list(b, a, cutoff), b, a)
            return i, j
        return self._ij(self.neighbor_list(a, b, cutoff), a, b)

    def _ij(self, nlist: freud.locality.NeighborList | None, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices of freud's bonds (``b`` replicas mapped back to their atom)."""
        if nlist is None or len(nlist) == 0:
            return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        ib = self.indices(b)
        return (self.indices(a)[nlist.query_point_indices.astype(np.int64)],
                ib[nlist.point_indices.astype(np.int64) % ib.size])

    def pairs(self, a: str, b: str, cutoff: float) -> Pairs:
        """All directed pairs (i of element ``a``, j of element ``b``) closer than ``cutoff`` Å."""
        return self._pairs(self.neighbor_list(a, b, cutoff), a, b)

    def _pairs(self, nlist: freud.locality.NeighborList | None, a: str, b: str) -> Pairs:
        """:class:`Pairs` in frame indices, image offsets and float64 distances of freud's bonds."""
        if nlist is None or len(nlist) == 0:
            return Pairs.empty()
        i, j = self._ij(nlist, a, b)
        step = np.linalg.solve(self.matrix, nlist.vectors.astype(float).T).T  # fractional bond vector
        shift = np.rint(self.frac[i] + step - self.frac[j]).astype(int)
        d = np.linalg.norm((self.frac[j] + shift - self.frac[i]) @ self.cell, axis=1)
        return Pairs(i, j, d, shift)

    def count(self, a: str, b: str, cutoff: float) -> np.ndarray:
        """For each atom of element ``a`` (in index order), how many ``b`` atoms lie within ``cutoff``."""
        nlist = self.neighbor_list(a, b, cutoff)
        if nlist is None:
            return np.zeros(self.indices(a).size, dtype=int)
        return nlist.neighbor_counts.astype(int)

    def rdf(self, a: str, b: str, r_max: float, nbins: int) -> np.ndarray | None:
        """g_ab(r) on ``nbins`` equal bins of [0, r_max] (None if either element is absent).

        freud finds the pairs and histograms them (:class:`freud.density.RDF`); its pair counts are
        normalised here in double precision as ``V * n_ab / (N_a * N_b * V_shell)``, V the frame's
        own volume, since freud's own ``rdf`` uses single-precision shell volumes (~1e-5 relative).
        """
        na, nb = self.indices(a).size, self.indices(b).size
        if na == 0 or nb == 0:
            return None
        if r_max > self.r_max:
            raise InputError(f"r_max {r_max} is beyond this frame's r_max {self.r_max}",
                             "build the FreudFrame with the RDF's r_max")
        if na > nb:  # n_ab = n_ba: query the smaller set against the tree of the larger (faster)
            a, b = b, a
        rdf = _histogram(int(nbins), float(r_max))
        rdf.compute(system=self.points(b), query_points=self.query_points(a),
                    neighbors={**_QUERY, "r_max": float(r_max), "exclude_ii": a == b})
        edges = np.linspace(0.0, float(r_max), int(nbins) + 1)
        shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        return np.asarray(rdf.bin_counts, dtype=float) * self.volume / (na * nb * shell)

    def clusters(self, species: str, cutoff: float) -> tuple[Pairs, np.ndarray, np.ndarray]:
        """Bonds, freud cluster index and bond count of each ``species`` atom (index order).

        freud's :class:`~freud.cluster.Cluster` labels the connected components of the bond graph;
        bonds to periodic images (replicas) count as bonds to the atom itself.
        """
        ids = self.indices(species)
        nlist = self.neighbor_list(species, species, cutoff)
        if nlist is None or len(nlist) == 0:
            return Pairs.empty(), np.arange(ids.size), np.zeros(ids.size, dtype=int)
        if self.reps == (1, 1, 1):
            own, system = nlist, self.points(species)
        else:  # bonds to replicas are bonds to the atom itself
            own = freud.locality.NeighborList.from_arrays(
                ids.size, ids.size, nlist.query_point_indices,
                nlist.point_indices.astype(np.int64) % ids.size, nlist.vectors)
            system = (freud_box(self.matrix), self._positions(self._wrapped(species), (1, 1, 1)))
        cluster = freud.cluster.Cluster().compute(system, neighbors=own)
        counts = nlist.neighbor_counts.astype(int)
        return self._pairs(nlist, species, species), np.asarray(cluster.cluster_idx), counts
