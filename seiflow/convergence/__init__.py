"""Convergence: per-round ratios of accurate/candidate/failed frames and the stop decision."""
