"""Benchmark 4: store labelled 232-atom interface frames in the FrameStore and export them to deepmd/npy,
vs dpdata writing the same frames straight to disk.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_data.py [--frames 100000] [--chunk 1000]``
(quick: ``--frames 3000 --chunk 500``). Uses a real SecantusDB daemon on a free port (never mongomock).
Each chunk of frames is built before any timer starts and then timed on every side in turn, so all
sides time the same work under the same load and at most one chunk of frames is in memory. Prints the
store, export and dpdata times, two floors (a raw insert_many of the same documents; np.save of the
same arrays), seiflow / floor (seiflow's time over the raw insert + read time: what its own code adds),
the daemon's memory and disk, the largest frame document (BSON bytes) and last the ratio seiflow
store+export rate / dpdata rate (goal >= 1.0).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dpdata
import numpy as np
from _common import Timer, embedded_store, machine, one_thread

from seiflow.constants import EMBEDDED_PID_FILE

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


class Totals:
    """Seconds spent by each side, summed over chunks."""

    def __init__(self) -> None:
        self.store = self.raw_insert = self.dpdata = self.np_save = self.export = self.raw_read = 0.0


def run_chunks(template, n: int, chunk: int, out: Path, totals: Totals) -> None:
    """Per chunk, once materialised (untimed): FrameStore.add_many; the same documents through one raw
    insert_many into a collection without secondary indexes (the server's floor); dpdata writing the
    chunk as one LabeledSystem; np.save of the chunk's stacked arrays (the disk's floor)."""
    from seiflow.dataset.export import system_from_frames
    from seiflow.dataset.frames import FrameStore

    store = FrameStore()
    raw = store.db["bench_raw_insert"]
    for k, batch in enumerate(frames(template, n, chunk)):
        with Timer() as t:
            store.add_many(batch)
        totals.store += t.s
        docs = [store._to_doc(f, f.content_hash(), []) for f in batch]
        with Timer() as t:
            raw.insert_many(docs, ordered=False)
        totals.raw_insert += t.s
        del docs
        with Timer() as t:
            system_from_frames(batch, TYPE_MAP).to("deepmd/npy", str(out / f"chunk{k:05d}"), set_size=n)
        totals.dpdata += t.s
        arrays = {"box": np.array([f.cell for f in batch]), "coord": np.array([f.positions for f in batch]),
                  "energy": np.array([f.energy for f in batch]), "force": np.array([f.forces for f in batch]),
                  "virial": np.array([f.virial for f in batch])}
        folder = out / f"npsave{k:05d}"
        folder.mkdir()
        with Timer() as t:
            for name, array in arrays.items():
                np.save(folder / name, array.reshape(len(batch), -1))
        totals.np_save += t.s
    if not isinstance(dpdata.LabeledSystem(str(out / "chunk00000"), fmt="deepmd/npy"), dpdata.LabeledSystem):
        raise RuntimeError("dpdata could not read back its own output")


def export(n: int, out: Path, totals: Totals) -> int:
    """Export the stored frames, then read the same documents back as raw BSON batches (the server's
    floor for the export: no decoding, nothing written); returns the largest frame document (bytes)."""
    from seiflow.dataset.frames import FrameStore

    store = FrameStore()
    with Timer() as t:
        paths = store.export_deepmd(out, TYPE_MAP, campaign="bench")
    totals.export = t.s
    exported = sum(len(np.load(f)) for p in paths for f in p.glob("set.*/energy.npy"))
    if exported != n or store.count(campaign="bench") != n:
        raise RuntimeError(f"stored {store.count(campaign='bench')} / exported {exported} of {n} frames")
    largest = 0
    with Timer() as t:
        for batch in store.collection.find_raw_batches(store.query(campaign="bench")):
            view, at = memoryview(batch), 0
            while at < len(view):  # each document's BSON length, without decoding it
                size = int.from_bytes(view[at:at + 4], "little")
                largest, at = max(largest, size), at + size
    totals.raw_read = t.s
    return largest


def server_usage(work: Path) -> str:
    """The SecantusDB daemon's peak memory and its storage folder's size."""
    pid = json.loads((work / "db" / EMBEDDED_PID_FILE).read_text())["pid"]
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    disk = sum(f.stat().st_size for f in (work / "db").rglob("*") if f.is_file())
    return f"peak RSS {status['VmHWM'].strip()}, storage {disk / 1e9:.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    one_thread()
    print(f"machine: {machine()}")
    template = interface_template()
    n = args.frames
    print(f"frames: {n} x {len(template)} atoms ({template.composition.formula}), chunk {args.chunk}")
    totals = Totals()
    with embedded_store() as work, tempfile.TemporaryDirectory() as tmp:
        run_chunks(template, n, args.chunk, Path(tmp), totals)
        largest = export(n, work / "export", totals)
        usage = server_usage(work)
    seiflow_s = totals.store + totals.export
    print(f"seiflow FrameStore.add_many: {totals.store:.2f} s ({n / totals.store:.0f} frames/s)")
    print(f"seiflow export_deepmd: {totals.export:.2f} s ({n / totals.export:.0f} frames/s)")
    print(f"seiflow store+export: {seiflow_s:.2f} s ({n / seiflow_s:.0f} frames/s)")
    print(f"dpdata LabeledSystem.to('deepmd/npy'): {totals.dpdata:.2f} s ({n / totals.dpdata:.0f} frames/s)")
    print(f"floor, the same documents via one raw insert_many per chunk (no secondary indexes): "
          f"{totals.raw_insert:.2f} s ({n / totals.raw_insert:.0f} frames/s)")
    print(f"floor, the same documents read back raw (find_raw_batches, no decoding): {totals.raw_read:.2f} s "
          f"({n / totals.raw_read:.0f} frames/s)")
    floor = totals.raw_insert + totals.raw_read
    print(f"floor, raw insert + raw read: {floor:.2f} s ({n / floor:.0f} frames/s; "
          f"dpdata / floor {totals.dpdata / floor:.3f}: the best ratio any store on this server could reach)")
    print(f"seiflow / floor: {seiflow_s / floor:.2f} (seiflow store+export time over the raw insert + read time: "
          f"what seiflow's own code adds on this server)")
    print(f"floor, np.save of each chunk's stacked arrays: {totals.np_save:.2f} s ({n / totals.np_save:.0f} frames/s)")
    client_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"SecantusDB daemon: {usage}; this process: peak RSS {client_mb:.0f} MB")
    print(f"largest frame document: {largest} bytes ({largest / MB:.3f} MB; goal < 1 MB: "
          f"{'ok' if largest < MB else 'MISSED'})")
    print(f"ratio: {totals.dpdata / seiflow_s:.3f} (seiflow store+export rate / dpdata rate; goal >= 1.0)")


if __name__ == "__main__":
    main()
