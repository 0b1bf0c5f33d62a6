"""recipegen: a word-level recurrent recipe generator built on Keras."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("recipegen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
