"""Semantic and spatio-semantic RSMs (wald2024, arXiv:2410.23107) and their comparison."""

from .compare import rsm_cka, semantic_vs_spatial
from .core import (
           LAYOUTS,
           RSM_KERNELS,
           RSMResult,
           as_concept_sets,
           rsm_kernel,
           semantic_rsm,
           spatial_rsm,
)

__all__ = ["semantic_rsm", "spatial_rsm", "RSMResult", "as_concept_sets", "rsm_kernel", "LAYOUTS", "RSM_KERNELS",
           "rsm_cka", "semantic_vs_spatial"]
