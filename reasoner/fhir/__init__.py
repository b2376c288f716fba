"""FHIR R4 / mCODE -> an Eligo record. Takes a Bundle or resource; gives record data plus the
resource and element each value came from, and warnings for what it left out. Knows nothing of
rules, verdicts or rendering."""
