"""SPEC (jalali2025, arXiv:2506.06231): where two embeddings of the same items cluster them
differently, in time linear in the number of items; and SPEC-align (torch, in
:mod:`repalign.spec.align`, imported on first use)."""

from .core import DIRECT_MAX_N, ROUTES, SPECMode, SPECResult, spec
from .features import DEFAULT_RFF, SPEC_KERNELS, FeatureMap
from .modes import mode_agreement, mode_labels, sigma_scan

__all__ = ["spec", "SPECResult", "SPECMode", "ROUTES", "DIRECT_MAX_N", "FeatureMap", "SPEC_KERNELS", "DEFAULT_RFF",
           "mode_agreement", "mode_labels", "sigma_scan"]
