"""Rule-author toolkit: rule-test cases and their pytest plugin, coverage, lint and mutation
testing. Reads the same rule files the engine loads; a driver, like the CLI."""
