"""Page views counted at the edge, without cookies or scripts, into daily rollups per tenant.

``counter`` decides what a view is and buffers views in memory; ``rollups`` stores them and
answers ``traffic`` for reports; ``agents`` reads User-Agents. Importing this package pulls in
neither the API nor the builder, so the edge, the API and the CLI all use it. See docs/analytics.md.
"""

from __future__ import annotations

from .counter import AnalyticsConfig, Counter
from .rollups import MAX_DAYS, View, traffic

__all__ = ["AnalyticsConfig", "Counter", "MAX_DAYS", "View", "traffic"]
