"""Documents passed between steps, and the campaign definition."""
