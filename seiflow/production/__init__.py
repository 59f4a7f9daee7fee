"""The production stage: the large cell's nanoseconds in queue-sized segments, analysed and watched as it runs.

``cell`` (the production cell), ``inputs`` (each segment's LAMMPS input), ``watch`` (the ensemble's
deviation on the cell), ``descriptors`` (SEI descriptors per segment), ``segment`` (one segment, run and
stored), ``flows`` (the chain of segments on the LAMMPS workers; ``seiflow produce``).
"""
