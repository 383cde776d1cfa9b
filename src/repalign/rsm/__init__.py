"""Semantic and spatio-semantic RSMs (wald2024, arXiv:2410.23107) and their comparison."""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "compare": ["rsm_cka", "semantic_vs_spatial"],
        "core": [
            "LAYOUTS", "RSM_KERNELS", "RSMResult", "as_concept_sets", "rsm_kernel", "semantic_rsm",
            "spatial_rsm"
        ],
    },
)
