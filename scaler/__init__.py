"""simplismart-scaler: scheduled autoscaling and cost saving for Simplismart deployments."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("simplismart-scaler")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
