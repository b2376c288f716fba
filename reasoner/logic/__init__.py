"""The rules: clause parser, rulebook (trials, criteria, rule files), the pyDatalog engine, the fast
bottom-up evaluator and proof search. Takes rule files and a record's facts; gives derived facts
and proofs. Knows nothing of criterion verdict wording, explanations or rendering."""
