"""Selection: trust levels on model deviation, geometry filters, farthest-point sampling, a per-round cap."""
