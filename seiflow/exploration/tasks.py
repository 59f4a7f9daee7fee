"""The exploration grid: seeds x ensembles x temperatures (x pressures for NPT), lengths set per round."""

from __future__ import annotations

import re

from seiflow.errors import InputError
from seiflow.schemas.campaign import ExplorationConfig
from seiflow.schemas.exploration import Ensemble, ExplorationTask


def round_nsteps(config: ExplorationConfig, round_index: int, scale: float = 1.0) -> int:
    """Run length of a round: ``nsteps`` in round 1, times ``nsteps_growth`` each later round.

    Rounds are numbered from 1 (round 0 is the initial data); ``scale`` is the adaptive multiplier
    (:mod:`seiflow.convergence.schedule`); the length is a multiple of ``out_freq``.
    """
    steps = int(round(config.nsteps * config.nsteps_growth ** max(round_index - 1, 0) * scale))
    return max(config.out_freq, steps - steps % config.out_freq)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "seed"


def make_tasks(
    seed_names: list[str], config: ExplorationConfig, round_index: int = 0, scale: float = 1.0,
    n_temperatures: int | None = None,
) -> list[ExplorationTask]:
    """One task per (seed, ensemble, temperature[, pressure]); ids are unique and readable.

    ``n_temperatures``: only the first that many of ``config.temperatures`` (the adaptive range).
    """
    if not seed_names:
        raise InputError("no seed structures for exploration", "set exploration.seeds")
    if len(set(seed_names)) != len(seed_names):
        raise InputError("a seed structure name appears twice", "give each seed a unique name")
    nsteps = round_nsteps(config, round_index, scale)
    tasks = []
    for seed_name in seed_names:
        for ensemble in config.ensembles:
            pressures = config.pressures if ensemble == "npt" else [None]
            for temperature in config.temperatures[:n_temperatures]:
                for pressure in pressures:
                    p_part = f"-{pressure:g}bar" if pressure is not None else ""
                    task_id = f"r{round_index}-{_slug(seed_name)}-{ensemble}-{temperature:g}K{p_part}"
                    tasks.append(
                        ExplorationTask(
                            task_id=task_id,
                            seed_name=seed_name,
                            ensemble=Ensemble(ensemble),
                            temperature=temperature,
                            pressure=pressure,
                            nsteps=nsteps,
                            timestep_fs=config.timestep_fs,
                            out_freq=config.out_freq,
                            round=round_index,
                            velocity_seed=len(tasks) + 1 + 1000 * round_index,
                            max_temperature_factor=config.max_temperature_factor,
                        )
                    )
    return tasks
