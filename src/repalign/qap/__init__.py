"""Quadratic assignment: the problem type, losses and kernels, solvers, QAPLIB files.

* :mod:`.problem`: :class:`QAPProblem` (Koopmans-Beckmann form with linear term, constant and
  anchors) and :class:`QAPResult` (one result type for every solver, seeded FAQ included).
* :mod:`.losses`: factorised losses and kernels (GW distances, CKA, mutual k-NN).
* :mod:`.frank_wolfe`: FAQ with anchors (maniparambil2024 Eq. 5), scipy's iterates at lower cost.
* :mod:`.solvers`: brute force, FAQ, 2-opt, entropic GW, tabu search, multi-start tabu, Hahn-Grant.
* :mod:`.qaplib`: ``.dat`` / ``.sln`` reader and writer.
"""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "frank_wolfe": ["FAQEngine", "faq", "faq_solver", "seeded_qap"],
        "losses": [
            "LOSSES", "MATCHING_MEASURES", "Loss", "cka_kernel", "distance_kernel", "knn_kernel",
            "matching_problem", "problem_from_kernels", "standardize_offdiagonal"
        ],
        "problem": ["QAPProblem", "QAPResult", "STOP_REASONS", "check_anchors"],
        "qaplib": ["check_reference", "read_qaplib", "read_solution", "write_qaplib", "write_solution"],
        "registry": ["SOLVER_DESCRIPTIONS", "SOLVER_INFO", "SolverInfo", "TIMED_SOLVERS"],
        "solvers": [
            "DEFAULT_RESTARTS", "RESTART_BATCH", "SOLVERS", "brute_force", "default_rounds", "entropic_gw",
            "hahn_grant", "multistart_tabu", "restart_length", "solve_qap", "tabu_search", "two_opt"
        ],
    },
)
