"""spasmwatch: an objective spasm log from commodity wearables.

A self-monitoring and research tool, not a diagnostic device. It never advises on
medication; exercise prompts are suggestions the wearer can dismiss.
"""

from spasmwatch._version import __version__
from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import SpasmwatchError

__all__ = ["Gap", "SampleBlock", "SpasmwatchError", "StreamSpec", "__version__"]
