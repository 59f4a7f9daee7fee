"""The campaign's records: one store per collection (campaigns, rounds, validation sets, validations...).

The collections: ``campaigns`` (:mod:`.campaigns`), ``rounds`` (:mod:`.rounds`), ``validation_sets`` and
``validations`` (:mod:`.validations`), ``calibrations`` (:mod:`.calibrations`), ``analyses``
(:mod:`.analyses`), and ``production_runs``, ``production`` and the ``production_files`` GridFS bucket
(:mod:`.production`).

Each store owns its collection: the document schema (``seiflow.schemas``), its indexes, and typed reads and
writes. Frames and models, which carry GridFS files, have theirs in ``seiflow.dataset.frames`` and
``seiflow.models.store``. Nothing else in seiflow indexes the database (``tests/test_store_access.py``).
"""
