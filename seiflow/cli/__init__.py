"""The ``seiflow`` command line."""
