"""Data sets for rnnkit: Reuters-21578 newswire topics and tiny Shakespeare.

Raw data is looked up in this order: an explicit ``path=`` argument, the folder
named by ``RNNKIT_DATA_DIR``, the per-user cache (``RNNKIT_CACHE_DIR``, else
``$XDG_CACHE_HOME/rnnkit``, else ``~/.cache/rnnkit``), then a download from the
data set's public home into that cache.

Example:
    >>> from rnnkit.datasets import reuters
    >>> (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=10000)  # doctest: +SKIP
"""

from . import reuters, shakespeare
from ._files import CACHE_DIR_ENV, DATA_DIR_ENV, DownloadError, cache_dir

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "DownloadError",
    "cache_dir",
    "reuters",
    "shakespeare",
]
