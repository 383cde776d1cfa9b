"""Experiments: one module per result the README reports; each returns a result object and
writes JSON."""

from .demo import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
