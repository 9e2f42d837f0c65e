"""The installed version of rnnscope (a leaf module: any layer may import it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rnnscope")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
