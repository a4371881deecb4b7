"""The version of the kycbridge core."""

__version__ = "0.1.0"
