"""Rule-author toolkit: rule test cases, their runner, coverage, lint and mutation testing."""
