"""FireWorks settings of jobflow jobs: their category, their campaign, and what they pass on.

jobflow copies a job's ``manager_config`` into its firework's spec: ``_category`` decides which workers
(``my_fworker.yaml``) pull it, ``campaign`` lets ``seiflow status`` and local workers find it.
"""

from __future__ import annotations

from typing import Any

from seiflow.constants import JobCategory


def set_category(job: Any, category: JobCategory | str, dynamic: bool = True) -> None:
    """Give a jobflow ``job`` its FireWorks category (jobflow copies manager_config into the spec)."""
    job.update_config({"manager_config": {"_category": JobCategory(category).value}}, dynamic=dynamic)


def tag_jobs(flow: Any, campaign: str, category: str | None = JobCategory.LIGHT.value) -> None:
    """Put the campaign name (and a default category) into every job's FireWorks spec.

    Jobs without a category get ``category`` (``light`` by default for controller-side work).
    """
    jobs = flow.jobs if hasattr(flow, "jobs") else [flow]
    for job in jobs:
        if hasattr(job, "jobs"):
            tag_jobs(job, campaign, category)
            continue
        manager = dict(job.config.manager_config)
        manager["campaign"] = campaign
        if category and "_category" not in manager:
            manager["_category"] = category
        job.config.manager_config = manager


def keep_own_config(job: Any, category: JobCategory | str) -> Any:
    """Set ``job``'s category for itself only: the jobs it adds at run time keep their own.

    jobflow would otherwise copy the whole manager config (category included) onto every job
    that ``job`` adds, replaces itself with, or detours to.
    """
    job.update_config({"manager_config": {"_category": JobCategory(category).value}}, dynamic=False)
    job.config.pass_manager_config = False
    return job
