"""Derivation graphs (networkx) of why each criterion came out as it did, and the phrasebook that
words them. Takes a record, the rules and proofs; gives graphs every renderer reads as they are.
Knows nothing of output formats."""
