"""seiflow: active learning of DeePMD potentials for battery interfaces, on MongoDB and FireWorks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seiflow")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
