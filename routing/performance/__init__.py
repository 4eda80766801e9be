"""Seller performance: daily metrics in, a daily evaluation out (score, segment, trend,
projection). No Slack and no environment here: callers pass the session, the day and the
configuration."""

from routing.performance.config import METRICS, PerfConfig, PerfConfigError, load_perf_config
from routing.performance.metrics_import import (
    ImportReport,
    MetricsFileError,
    import_metrics_csv,
    import_metrics_sql,
)

__all__ = [
    "METRICS",
    "ImportReport",
    "MetricsFileError",
    "PerfConfig",
    "PerfConfigError",
    "import_metrics_csv",
    "import_metrics_sql",
    "load_perf_config",
]
