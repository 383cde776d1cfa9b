"""SPEC (jalali2025, arXiv:2506.06231): where two embeddings of the same items cluster them
differently, in time linear in the number of items; and SPEC-align (torch, in
:mod:`repalign.spectral.align`, imported on first use)."""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "core": ["DIRECT_MAX_N", "ROUTES", "SPECMode", "SPECResult", "spec"],
        "features": ["DEFAULT_RFF", "SPEC_KERNELS", "FeatureMap"],
        "modes": ["mode_agreement", "mode_labels", "sigma_scan"],
    },
)
