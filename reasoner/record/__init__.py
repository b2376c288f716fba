"""The patient record: its one format definition (validation, docs, JSON Schema), units, and the
record -> base facts translation. Takes bytes or parsed data; gives a validated Record and facts,
each with its record path. Knows nothing of rules, engines, verdicts or rendering."""
