"""Transport and mechanics of the converged model as a campaign stage: diffusion MD and elastic constants."""
