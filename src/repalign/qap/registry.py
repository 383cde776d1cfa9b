"""The one registry of QAP solvers: name, what it does, whether it takes a time limit and gives a
bound. ``solve_qap`` dispatches through it, and ``repalign qap`` / ``repalign list solvers`` read
it without importing the compiled solvers."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SolverInfo", "SOLVER_INFO", "SOLVER_DESCRIPTIONS", "TIMED_SOLVERS"]


@dataclass(frozen=True)
class SolverInfo:
    """One QAP solver.

    Attributes
    ----------
    name : str
        Its name in ``solve_qap(problem, name)`` and ``repalign qap --solver NAME``.
    function : str
        The function in :mod:`repalign.qap.solvers` that runs it.
    description : str
        One line for ``repalign list solvers``.
    timed : bool
        Takes ``time_limit`` (seconds, an optional cap on top of its work budget).
    bound : bool
        Returns a certified lower bound.
    seeded : bool
        Draws random numbers and takes ``seed``.
    budget : str
        The argument that sets its work budget ("" for solvers that run to completion).
    """

    name: str
    function: str
    description: str
    timed: bool = False
    bound: bool = False
    seeded: bool = False
    budget: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "time_limit": self.timed, "bound": self.bound,
                "seed": self.seeded, "budget": self.budget}


SOLVER_INFO: dict[str, SolverInfo] = {s.name: s for s in (
    SolverInfo("brute-force", "brute_force", "exact: every permutation (n <= 10); bound = optimum", bound=True),
    SolverInfo("faq", "faq_solver", "Frank-Wolfe on the doubly stochastic relaxation (FAQ), anchors, restarts; "
                                    "no bound", seeded=True, budget="restarts"),
    SolverInfo("2opt", "two_opt", "best-improvement pairwise exchanges from a start; no bound"),
    SolverInfo("entropic-gw", "entropic_gw", "entropic Gromov-Wasserstein coupling, rounded, then 2-opt; no bound"),
    SolverInfo("tabu", "tabu_search", "one robust tabu search (Taillard) for max_iter iterations; no bound",
               timed=True, seeded=True, budget="max_iter"),
    SolverInfo("multistart", "multistart_tabu", "short tabu searches from diversified starts in parallel, early "
                                                "stop when the best repeats; the strongest heuristic; no bound",
               timed=True, seeded=True, budget="restarts"),
    SolverInfo("hahn-grant", "hahn_grant", "multi-start tabu warm start + Hahn-Grant dual ascent: certified lower "
                                           "bound, proves optimality", timed=True, bound=True, seeded=True,
               budget="rounds"),
)}

#: name -> one-line description (what ``repalign list solvers`` prints)
SOLVER_DESCRIPTIONS = {name: s.description for name, s in SOLVER_INFO.items()}
TIMED_SOLVERS = tuple(name for name, s in SOLVER_INFO.items() if s.timed)
