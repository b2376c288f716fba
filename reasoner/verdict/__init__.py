"""Criterion outcomes (pass / fail / unknown, with what is missing) and trial verdicts. Takes an
evaluation from logic/; gives verdict objects. Knows nothing of rendering or drivers."""
