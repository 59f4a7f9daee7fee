"""The seed ensemble: N independent training jobs (category ``train``), so N workers can train at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker

from seiflow.errors import InputError
from seiflow.schemas.campaign import Campaign
from seiflow.training.data import TrainingDataSpec
from seiflow.training.jobs import DeepmdTrainMaker


@dataclass
class EnsembleTrainMaker(Maker):
    """``numb_models`` DeePMD models with seeds ``seed .. seed + N - 1``, one job each."""

    name: str = "deepmd ensemble"
    train_maker: DeepmdTrainMaker = field(default_factory=DeepmdTrainMaker)
    numb_models: int | None = None  # None: train_maker.config.numb_models

    @classmethod
    def from_campaign(cls, campaign: Campaign, **kwargs) -> EnsembleTrainMaker:
        """The ensemble maker a campaign asks for (its training section and type_map)."""
        train = DeepmdTrainMaker(config=campaign.training, type_map=list(campaign.system.type_map), **kwargs)
        return cls(train_maker=train)

    def make(
        self,
        data: TrainingDataSpec,
        campaign: str,
        round: int = 1,
        prev_model_ids: list[str] | None = None,
    ) -> Flow:
        """One training job per model; model i of round r > 1 starts from ``prev_model_ids[i]``."""
        n = self.numb_models or self.train_maker.config.numb_models
        if prev_model_ids and len(prev_model_ids) != n:
            raise InputError(
                f"{len(prev_model_ids)} previous models for an ensemble of {n}",
                "keep training.numb_models the same across rounds, or use next_round_init: scratch",
            )
        base = self.train_maker.config.seed
        jobs = [
            self.train_maker.make(
                data, campaign, round, index=i, seed=base + i,
                prev_model_id=prev_model_ids[i] if prev_model_ids else None,
            )
            for i in range(n)
        ]
        output = [j.output.model_id for j in jobs]
        return Flow(jobs, output=output, name=f"{self.name} {campaign} r{round}")
