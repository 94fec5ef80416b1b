"""tidemark: high and low water marks from tide-gauge logs."""

__version__ = "0.3.1"
