"""Quadratic assignment: the problem type, losses and kernels, solvers, QAPLIB files.

* :mod:`.problem`: :class:`QAPProblem` (Koopmans-Beckmann form with linear term and constant)
  and :class:`QAPResult` (one result type for every solver).
* :mod:`.losses`: factorised losses and kernels (GW distances, CKA, mutual k-NN).
* :mod:`.faq`: seeded FAQ (maniparambil2024 Eq. 5), scipy's iterates at lower cost.
* :mod:`.solvers`: brute force, FAQ, 2-opt, entropic GW, tabu search, Hahn-Grant.
* :mod:`.qaplib`: ``.dat`` / ``.sln`` reader and writer.
"""

from .faq import FAQResult, SeededProblem, faq, seeded_qap
from .losses import (
    LOSSES,
    METRICS,
    Loss,
    cka_kernel,
    distance_kernel,
    knn_kernel,
    matching_problem,
    problem_from_kernels,
    standardize_offdiagonal,
)
from .problem import QAPProblem, QAPResult
from .qaplib import read_qaplib, read_solution, write_qaplib, write_solution
from .solvers import (
    SOLVERS,
    brute_force,
    entropic_gw,
    faq_solver,
    hahn_grant,
    solve_qap,
    tabu_search,
    two_opt,
)

__all__ = ["FAQResult", "SeededProblem", "faq", "seeded_qap", "QAPProblem", "QAPResult", "Loss", "LOSSES",
           "METRICS", "cka_kernel", "distance_kernel", "knn_kernel", "standardize_offdiagonal",
           "problem_from_kernels", "matching_problem", "read_qaplib", "read_solution", "write_qaplib",
           "write_solution", "SOLVERS", "solve_qap", "brute_force", "faq_solver", "two_opt", "entropic_gw",
           "tabu_search", "hahn_grant"]
