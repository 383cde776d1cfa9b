"""Quadratic assignment: problem forms and solvers (FAQ so far)."""

from .faq import FAQResult, faq, seeded_qap

__all__ = ["FAQResult", "faq", "seeded_qap"]
