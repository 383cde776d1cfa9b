"""Quadratic assignment: the problem type, losses and kernels, solvers, QAPLIB files.

* :mod:`.problem`: :class:`QAPProblem` (Koopmans-Beckmann form with linear term, constant and
  anchors) and :class:`QAPResult` (one result type for every solver, seeded FAQ included).
* :mod:`.losses`: factorised losses and kernels (GW distances, CKA, mutual k-NN).
* :mod:`.faq`: FAQ with anchors (maniparambil2024 Eq. 5), scipy's iterates at lower cost.
* :mod:`.solvers`: brute force, FAQ, 2-opt, entropic GW, tabu search, Hahn-Grant.
* :mod:`.qaplib`: ``.dat`` / ``.sln`` reader and writer.
"""

from .faq import FAQEngine, faq, faq_solver, seeded_qap
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
from .problem import QAPProblem, QAPResult, check_anchors
from .qaplib import read_qaplib, read_solution, write_qaplib, write_solution
from .solvers import (
    DEFAULT_TIME_LIMIT,
    SOLVER_DESCRIPTIONS,
    SOLVERS,
    brute_force,
    entropic_gw,
    hahn_grant,
    heuristic_share,
    solve_qap,
    tabu_search,
    two_opt,
)

__all__ = ["FAQEngine", "faq", "seeded_qap", "QAPProblem", "QAPResult", "check_anchors", "Loss", "LOSSES",
           "METRICS", "cka_kernel", "distance_kernel", "knn_kernel", "standardize_offdiagonal",
           "problem_from_kernels", "matching_problem", "read_qaplib", "read_solution", "write_qaplib",
           "write_solution", "SOLVERS", "SOLVER_DESCRIPTIONS", "DEFAULT_TIME_LIMIT", "solve_qap", "brute_force", "faq_solver", "two_opt", "entropic_gw",
           "tabu_search", "hahn_grant", "heuristic_share"]
