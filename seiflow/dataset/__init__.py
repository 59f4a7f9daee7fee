"""The dataset: labelled frames in MongoDB (documents + GridFS arrays), import and DeePMD export."""
