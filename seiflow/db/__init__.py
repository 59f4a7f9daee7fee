"""The embedded MongoDB-protocol server that seiflow can run on one machine."""
