"""Checks: each spec criterion's check (criteria.py), the reliability checks, and the tools
they use."""
