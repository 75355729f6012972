"""wsbench: one harness and one protocol for weight-space learning on INRs."""
__version__ = "0.1.0"
