"""Min/max decimation of a signal for display: hours of samples into a few thousand pixels.

Drawing the minimum and maximum of each bucket as a vertical line shows every spike that a
plain subsampling would hide, at a cost of two numbers per bucket and channel. The
computation lives with the recordings (:mod:`spasmwatch.store._pyramid`), whose min/max
pyramid answers it without reading every sample; this module is its public face in the API.
"""

from __future__ import annotations

from spasmwatch.store._pyramid import MAX_BUCKETS, minmax_buckets

__all__ = ["MAX_BUCKETS", "minmax_buckets"]
