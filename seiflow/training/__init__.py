"""DeePMD training: input files, dp train/freeze/compress/test, jobs and the seed ensemble flow."""
