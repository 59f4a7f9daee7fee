"""Benchmark 4: store labelled 232-atom interface frames in the FrameStore and export them to deepmd/npy,
vs dpdata writing the same frames straight to disk.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_data.py [--frames 100000] [--chunk 1000]``
(quick: ``--frames 2000``). Uses a real SecantusDB daemon on a free port (never mongomock). Prints the
store, export and dpdata times, the largest frame document (BSON bytes) and last the ratio
seiflow rate / dpdata rate (goal >= 1.0).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import bson
import dpdata
import numpy as np
from _common import Timer, embedded_store, machine, one_thread

TYPE_MAP = ["Li", "In", "Cl"]
MB = 1024 * 1024


def interface_template():
    """The demo's 232-atom Li(110) | Li3InCl6(001) sandwich (fixed bulks, as in the structure tests)."""
    from seiflow.schemas.campaign import InterfaceConfig
    from seiflow.structures.bulk import load_bulk, set_lattice_constant
    from seiflow.structures.interface import build_interface

    bulks = {"Li": set_lattice_constant(load_bulk("Li"), 3.44), "Li3InCl6": load_bulk("Li3InCl6")}
    return build_interface(InterfaceConfig(), bulks).structure


def frames(template, n: int, chunk: int, seed: int = 0) -> Iterator[list]:
    """Chunks of labelled frames: rattled copies with random energy/forces/virial (the same for both sides)."""
    from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

    rng = np.random.default_rng(seed)
    species = [s.symbol for s in template.species]
    pos0, cell = template.cart_coords, template.lattice.matrix
    reference = Reference(calculator="chgnet", settings={"model": "0.3.0"})
    for start in range(0, n, chunk):
        out = []
        for i in range(start, min(n, start + chunk)):
            out.append(LabelledFrame(
                species=species, positions=pos0 + rng.normal(0, 0.05, pos0.shape), cell=cell,
                energy=float(-800 + rng.normal()), forces=rng.normal(0, 0.5, pos0.shape),
                virial=rng.normal(0, 1, (3, 3)), reference=reference,
                provenance=Provenance(campaign="bench", round=1, source="bench", frame_index=i),
            ))
        yield out


def bench_seiflow(template, n: int, chunk: int, out: Path) -> tuple[float, float, int]:
    """Store then export; returns (store_s, export_s, largest document bytes)."""
    from seiflow.dataset.frames import FrameStore

    store = FrameStore()
    t_store = 0.0
    for batch in frames(template, n, chunk):  # each chunk is built before its timer starts, as for dpdata
        with Timer() as t:
            store.add_many(batch)
        t_store += t.s
    with Timer() as t_export:
        paths = store.export_deepmd(out, TYPE_MAP, campaign="bench")
    exported = sum(len(np.load(p / "set.000" / "energy.npy")) for p in paths) if paths else 0
    if exported == 0 or store.count(campaign="bench") != n:
        raise RuntimeError(f"stored {store.count(campaign='bench')} / exported {exported} of {n} frames")
    largest = max(len(bson.encode(doc)) for doc in store.collection.find({}))
    return t_store, t_export.s, largest


def bench_batched_insert(template, n: int, chunk: int) -> float:
    """What a batched add_many would cost: the same frame documents through one insert_many per chunk."""
    from seiflow.dataset.frames import FrameStore

    store = FrameStore()
    coll = store.db["bench_batched"]
    total = 0.0
    for batch in frames(template, n, chunk, seed=1):
        with Timer() as t:
            coll.insert_many([store._to_doc(f, f.content_hash(), []) for f in batch], ordered=False)
        total += t.s
    return total


def bench_dpdata(template, n: int, chunk: int, out: Path) -> float:
    """The same frames as dpdata LabeledSystems written with to('deepmd/npy'), one folder per chunk."""
    from seiflow.dataset.export import system_from_frames

    total = 0.0
    for k, batch in enumerate(frames(template, n, chunk)):
        with Timer() as t:
            system_from_frames(batch, TYPE_MAP).to("deepmd/npy", str(out / f"chunk{k:05d}"), set_size=n)
        total += t.s
    if not isinstance(dpdata.LabeledSystem(str(out / "chunk00000"), fmt="deepmd/npy"), dpdata.LabeledSystem):
        raise RuntimeError("dpdata could not read back its own output")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    one_thread()
    print(f"machine: {machine()}")
    template = interface_template()
    print(f"frames: {args.frames} x {len(template)} atoms ({template.composition.formula}), chunk {args.chunk}")
    with embedded_store() as work, tempfile.TemporaryDirectory() as tmp:
        t_store, t_export, largest = bench_seiflow(template, args.frames, args.chunk, work / "export")
        t_batched = bench_batched_insert(template, args.frames, args.chunk)
        t_dp = bench_dpdata(template, args.frames, args.chunk, Path(tmp))
    seiflow_s = t_store + t_export
    print(f"seiflow FrameStore.add_many: {t_store:.2f} s ({args.frames / t_store:.0f} frames/s)")
    print(f"(same documents via insert_many per chunk: {t_batched:.2f} s, "
          f"{args.frames / t_batched:.0f} frames/s)")
    print(f"seiflow export_deepmd: {t_export:.2f} s ({args.frames / t_export:.0f} frames/s)")
    print(f"dpdata LabeledSystem.to('deepmd/npy'): {t_dp:.2f} s ({args.frames / t_dp:.0f} frames/s)")
    print(f"largest frame document: {largest} bytes ({largest / MB:.3f} MB; goal < 1 MB: "
          f"{'ok' if largest < MB else 'MISSED'})")
    print(f"ratio: {t_dp / seiflow_s:.3f} (seiflow store+export rate / dpdata rate; goal >= 1.0)")


if __name__ == "__main__":
    main()
