"""Each selection rule on hand-made deviation data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from seiflow.errors import InputError
from seiflow.schemas.campaign import SelectionConfig
from seiflow.schemas.exploration import Deviation, ExplorationResult, ExplorationTask, TaskStatus
from seiflow.selection.filters import BoxLengthFilter, BoxSkewFilter, MinDistanceFilter
from seiflow.selection.fps import DistanceHistogramDescriptor, farthest_point_sampling
from seiflow.selection.selector import Selector, selector_from_config
from seiflow.selection.trust_levels import (
    AdaptiveLower,
    FrameClass,
    Levels,
    TrustLevels,
    histogram,
    sanity_pool,
)

A, C, F = FrameClass.ACCURATE, FrameClass.CANDIDATE, FrameClass.FAILED


def dev(f, e=None, v=None) -> Deviation:
    n = len(f)
    return Deviation(
        steps=list(range(0, 10 * n, 10)), max_devi_f=f, avg_devi_f=f,
        max_devi_v=v if v is not None else [0.0] * n, devi_e=e,
    )


def result(task_id: str, f, status=TaskStatus.COMPLETED, reason=None) -> ExplorationResult:
    task = ExplorationTask(task_id=task_id, seed_name="x", temperature=300, nsteps=100, out_freq=10)
    d = dev(f) if status == TaskStatus.COMPLETED else Deviation()
    return ExplorationResult(task=task, status=status, n_frames=d.n_frames, deviation=d, reason=reason)


def box(n_atoms: int = 4, a: float = 6.0, shift: float = 0.0, tag=("t", 0)) -> Structure:
    rng = np.random.default_rng(int(shift * 1000) + n_atoms)
    frac = rng.uniform(0, 1, (n_atoms, 3))
    frac[0] = [0, 0, 0]
    frac[1] = [0.5, 0.5, 0.5]
    s = Structure(Lattice.cubic(a), ["Li", "Cl"] * (n_atoms // 2), frac)
    s.properties = {"provenance": {"source": "exploration", "origin": tag[0], "frame_index": tag[1]}}
    return s


def test_force_levels_classify():
    trust = TrustLevels(Levels(0.1, 0.3))
    got = trust.classify(dev([0.05, 0.1, 0.2, 0.3, 0.31, float("nan")]))
    assert got.tolist() == [A, C, C, C, F, F]


def test_energy_and_virial_levels_combine_with_force():
    trust = TrustLevels(Levels(0.1, 0.3), energy=Levels(0.01, 0.05), virial=Levels(0.02, 0.1))
    d = dev([0.05, 0.05, 0.05, 0.2, 0.05], e=[0.001, 0.02, 0.06, 0.001, 0.001], v=[0, 0, 0, 0, 0.2])
    assert trust.classify(d).tolist() == [A, C, F, C, F]


def test_energy_levels_need_energy_deviation():
    with pytest.raises(InputError):
        TrustLevels(Levels(0.1, 0.3), energy=Levels(0.01, 0.05)).classify(dev([0.1]))


def test_levels_must_be_ordered():
    with pytest.raises(InputError):
        Levels(0.3, 0.1)


def test_adaptive_lower_picks_top_rate():
    values = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.5])
    lo = AdaptiveLower(rate=0.2).lower_level(values, hi=0.3)  # 2 of 10 frames; 0.5 is failed
    assert lo == pytest.approx(0.08)
    assert AdaptiveLower(rate=0.2, floor=0.085).lower_level(values, hi=0.3) == pytest.approx(0.085)
    assert AdaptiveLower(rate=0.1, numb=3).lower_level(values, hi=0.3) == pytest.approx(0.07)


def test_histogram_counts_every_frame():
    edges, counts = histogram(np.array([0.0, 0.1, 0.2, 5.0]), hi=0.3, bins=3)
    assert edges == pytest.approx([0.0, 0.15, 0.3, 0.45])
    assert counts == [2, 1, 1]


def test_min_distance_filter():
    ok = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    bad = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.1, 0, 0]])  # 0.4 Å
    assert MinDistanceFilter(1.0).check(ok) is None
    assert "0.400" in MinDistanceFilter(1.0).check(bad)


def test_box_skew_and_length_filters():
    skewed = Structure(Lattice([[5, 0, 0], [4, 5, 0], [0, 0, 5]]), ["Li"], [[0, 0, 0]])
    assert BoxSkewFilter(0.5).check(skewed) is not None  # xy/lx = 0.8
    assert BoxSkewFilter(0.9).check(skewed) is None
    long = Structure(Lattice.orthorhombic(3, 3, 20), ["Li"], [[0, 0, 0]])
    assert BoxLengthFilter(5.0).check(long) is not None
    assert BoxLengthFilter(7.0).check(long) is None


def test_fps_known_answer():
    pts = np.array([[0.0], [0.1], [10.0], [5.0], [9.9]])
    assert farthest_point_sampling(pts, 3, start=0) == [0, 2, 3]
    assert farthest_point_sampling(pts, 10) == [0, 1, 2, 3, 4]


def test_selector_counts_cap_filters_and_failed_tasks():
    f = [0.05, 0.15, 0.25, 0.12, 0.5, 0.2]
    results = [result("a", f), result("b", [], TaskStatus.FAILED, "Lost atoms")]
    structures = [box(tag=("a", step)) for step in range(0, 60, 10)]
    # the frame at step 10 has two atoms 0.3 Å apart: filtered
    structures[1] = Structure(
        Lattice.cubic(6.0), ["Li", "Cl"], [[0, 0, 0], [0.05, 0, 0]],
        properties={"provenance": {"origin": "a", "frame_index": 10}},
    )
    sel = Selector(TrustLevels(Levels(0.1, 0.3)), max_candidates=2, filters=[MinDistanceFilter(1.0)])
    doc, picked = sel.select(results, structures)
    assert (doc.n_frames, doc.n_accurate, doc.n_candidate, doc.n_failed) == (6, 1, 4, 1)
    assert doc.accurate_ratio == pytest.approx(1 / 6)
    assert doc.n_filtered == 1 and doc.filter_reasons == {"min_distance": 1}
    assert [(x.step, x.max_devi_f) for x in doc.selected] == [(20, 0.25), (50, 0.2)]
    assert [s.properties["provenance"]["frame_index"] for s in picked] == [20, 50]
    assert doc.failed_tasks == {"b": "Lost atoms"} and doc.n_failed_tasks == 1
    assert sum(doc.histogram.counts) == 6


def test_selector_fps_prefers_diverse_frames():
    f = [0.2, 0.19, 0.18]
    structures = [box(tag=("a", 0)), box(tag=("a", 10)), box(a=9.0, shift=0.5, tag=("a", 20))]
    structures[1] = Structure(structures[0].lattice, structures[0].species, structures[0].frac_coords)
    structures[1].properties = {"provenance": {"origin": "a", "frame_index": 10}}
    sel = Selector(
        TrustLevels(Levels(0.1, 0.3)), max_candidates=2,
        descriptor=DistanceHistogramDescriptor(["Li", "Cl"]),
    )
    doc, _ = sel.select([result("a", f)], structures)
    assert [x.step for x in doc.selected] == [0, 20]  # the duplicate of frame 0 is skipped


def test_selector_from_config_adaptive():
    cfg = SelectionConfig(adaptive_lower=True, adaptive_rate=0.5, fps=False)
    sel = selector_from_config(cfg, ["Li", "Cl"])
    structures = [box(tag=("a", s)) for s in range(0, 40, 10)]
    doc, picked = sel.select([result("a", [0.01, 0.02, 0.03, 0.04])], structures)
    assert doc.f_trust_lo_used == pytest.approx(0.03)
    assert doc.n_candidate == 2 and len(picked) == 2
    assert sel.keep_floor() == 0.0


def test_sanity_pool_is_the_accurate_frames_else_the_lowest_deviation_ones():
    values = np.array([0.05, 0.4, 0.3, 0.08, 0.9, 0.2, 0.25, 0.22, 0.6, 0.35])
    classes = TrustLevels(Levels(0.1, 0.8)).classify(dev(values.tolist()))
    assert sanity_pool(values, classes, 2).tolist() == [0, 3]  # two accurate frames: those
    # asked for 3 with 2 accurate: the max(2 n, 10 %) lowest non-failed frames (frame 4 failed)
    assert sanity_pool(values, classes, 3).tolist() == [0, 3, 5, 7, 6, 2]
    assert sanity_pool(values, classes, 5).tolist() == [0, 3, 5, 7, 6, 2, 9, 1, 8]  # all 9 non-failed


def test_selector_draws_sanity_labels_from_the_lowest_deviations_when_none_is_accurate():
    f = [0.31, 0.2, 0.25, 0.5, 0.45, 0.9, 0.22, 0.6]
    structures = [box(tag=("a", step)) for step in range(0, 80, 10)]
    sel = Selector(TrustLevels(Levels(0.1, 0.8)), max_candidates=2, n_sanity=1)
    doc, picked = sel.select([result("a", f)], structures)
    assert doc.n_accurate == 0 and doc.n_sanity == 1
    sanity = [s for s in picked if s.properties["provenance"].get("sanity")]
    assert len(sanity) == 1
    step = sanity[0].properties["provenance"]["frame_index"]
    assert step in (10, 60) and step not in [x.step for x in doc.selected]  # 2 lowest, not a candidate


def test_selector_skips_frames_already_labelled():
    """A labelled frame met again (an unchanged seed's step 0) is neither a candidate nor a sanity label."""
    f = [0.5, 0.4, 0.3, 0.05, 0.06]
    structures = [box(shift=0.1 * i, tag=("a", 10 * i)) for i in range(5)]
    stored = {0, 30}  # the highest-deviation candidate and one accurate frame
    sel = Selector(TrustLevels(Levels(0.1, 0.8)), max_candidates=2, n_sanity=2,
                   labelled=lambda s: s.properties["provenance"]["frame_index"] in stored)
    doc, picked = sel.select([result("a", f)], structures)
    assert [x.step for x in doc.selected] == [10, 20]
    assert doc.filter_reasons == {"labelled": 1} and doc.n_filtered == 0  # not a geometry filter
    assert [s.properties["provenance"]["frame_index"] for s in picked if s.properties["provenance"].get("sanity")] == [40]


def test_selection_job_skips_what_the_store_holds_for_its_reference(seiflow_env):
    """``select_from_outputs`` with the campaign's reference asks the frame store; another reference does not."""
    from seiflow.dataset.frames import FrameStore
    from seiflow.schemas.exploration import ExplorationOutput
    from seiflow.schemas.frame import LabelledFrame, Provenance, Reference
    from seiflow.selection.jobs import select_from_outputs

    structures = [box(shift=0.1 * i, tag=("a", 10 * i)) for i in range(3)]
    ref = Reference(calculator="emt", settings={})
    s0 = structures[0]
    FrameStore().add(LabelledFrame(
        species=[str(sp) for sp in s0.species], positions=s0.cart_coords, cell=s0.lattice.matrix,
        energy=-1.0, forces=np.zeros((len(s0), 3)), reference=ref, provenance=Provenance(source="exploration"),
    ))
    output = ExplorationOutput(result=result("a", [0.5, 0.4, 0.3]), structures=structures)
    config = SelectionConfig(f_trust_lo=0.1, f_trust_hi=0.8, max_candidates=2, fps=False)
    steps = lambda out: [x.step for x in out.result.selected]  # noqa: E731
    assert steps(select_from_outputs([output], config, ["Li", "Cl"], reference=ref)) == [10, 20]
    other = Reference(calculator="emt", settings={"asap_cutoff": True})
    assert steps(select_from_outputs([output], config, ["Li", "Cl"], reference=other)) == [0, 10]
    assert steps(select_from_outputs([output], config, ["Li", "Cl"])) == [0, 10]


def test_sanity_labels_are_drawn_among_unlabelled_frames():
    """With no accurate frame the lowest-deviation ones stand in; labelled ones (each seed's step 0, trained
    on) are left out before the pool is drawn, so a round still gets its sanity label."""
    f = [0.2, 0.21, 0.5, 0.45, 0.3, 0.35, 0.6, 0.4]
    structures = [box(shift=0.1 * i, tag=("a", 10 * i)) for i in range(8)]
    stored = {0, 10}  # the two lowest
    sel = Selector(TrustLevels(Levels(0.1, 0.8)), max_candidates=2, n_sanity=1,
                   labelled=lambda s: s.properties["provenance"]["frame_index"] in stored)
    doc, picked = sel.select([result("a", f)], structures)
    assert doc.n_sanity == 1 and [x.step for x in doc.selected] == [60, 20]
    sanity = [s.properties["provenance"]["frame_index"] for s in picked if s.properties["provenance"].get("sanity")]
    assert sanity[0] in (40, 50)  # the two lowest left: 0.3, 0.35
