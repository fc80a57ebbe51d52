"""Script entry: ``python -m spasmwatch.simulation.realism --data-dir DIR [--out DOCS]``.

Compares simulated EMG/ACC with the real Myo and Daphnet recordings (see
:mod:`spasmwatch.simulation._realism`).
"""

from __future__ import annotations

import sys

from spasmwatch.simulation._realism import compare, main

__all__ = ["compare", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
