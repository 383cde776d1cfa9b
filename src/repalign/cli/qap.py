"""``repalign qap FILE.dat``: solve a QAPLIB instance, with a bound where the solver gives one."""

from __future__ import annotations

from pathlib import Path

from ..qap import SOLVER_INFO, check_reference, read_qaplib, solve_qap, write_solution
from .common import check_out, print_json
from .errors import CLIError

__all__ = ["run"]

SLN_OUT = (".sln",)
STOPPED = {"optimal": "the bound (optimal)", "budget": "its work budget", "converged": "convergence",
           "target": "the target", "time": "the time limit (the answer may differ on another machine)"}


def _reference(args, problem):
    """The ``.sln`` to compare against (``--reference``), validated before solving; None if none."""
    if args.reference == "none":
        return None
    sln = Path(args.file).with_suffix(".sln") if args.reference == "auto" else Path(args.reference)
    if args.reference == "auto" and not sln.exists():
        return None
    try:
        return check_reference(problem, sln, args.file)
    except ValueError as exc:
        raise CLIError(f"{exc} (pass --reference none to solve without it)") from None


def run(args) -> int:
    if args.solver not in SOLVER_INFO:
        raise CLIError(f"--solver: unknown {args.solver!r}; choose one of {', '.join(SOLVER_INFO)}")
    check_out(args.out, SLN_OUT, args.force)
    problem = read_qaplib(args.file)
    reference = _reference(args, problem)
    info = SOLVER_INFO[args.solver]
    kwargs = {}
    if args.solver in ("hahn-grant", "multistart"):
        kwargs["progress"] = True
    if args.time_limit is not None:
        if not info.timed:
            raise CLIError(f"--time-limit: solver {args.solver!r} runs to completion; use it with "
                           f"{' or '.join(k for k, s in SOLVER_INFO.items() if s.timed)}")
        kwargs["time_limit"] = args.time_limit
    if args.budget is not None:
        if not info.budget:
            raise CLIError(f"--budget: solver {args.solver!r} runs to completion and has no work budget")
        kwargs[info.budget] = args.budget
    if args.seed is not None:
        if not info.seeded:
            raise CLIError(f"--seed: solver {args.solver!r} draws no random numbers")
        kwargs["seed"] = args.seed
    res = solve_qap(problem, args.solver, **kwargs)
    out = {"kind": "qap", "instance": problem.name, "n": problem.n, "solver": args.solver, "objective": res.objective,
           "lower_bound": res.lower_bound, "optimal": res.optimal, "gap": res.gap,
           "permutation": [int(x) for x in res.permutation], "seconds": res.seconds,
           "iterations": res.iterations, "stopped_by": res.stopped_by}
    if reference is not None:
        out["reference"] = reference
        out["reference_objective"] = reference["objective"]
        out["gap_to_reference"] = (res.objective - reference["objective"]) / max(abs(reference["objective"]), 1e-12)
    if args.out:
        write_solution(args.out, res.permutation, res.objective, force=args.force)
    if args.json:
        print_json(out)
    else:
        lb = "none" if res.lower_bound is None else f"{res.lower_bound:.6g}"
        line = (f"{problem.name} (n={problem.n}) {args.solver}: objective {res.objective:.10g}, lower bound {lb}, "
                f"{'optimal' if res.optimal else 'not proven optimal'}, {res.seconds:.2f} s, stopped by "
                f"{STOPPED[res.stopped_by]}")
        if "reference_objective" in out:
            line += f"; .sln {out['reference_objective']:.10g} (gap {100 * out['gap_to_reference']:.3f} %)"
        print(line)
    return 0
