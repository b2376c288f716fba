"""Eligo: explainable eligibility reasoning for oligometastatic breast cancer trials."""

__version__ = "0.2.0"
