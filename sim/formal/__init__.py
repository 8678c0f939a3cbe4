"""Formal proofs of the stream blocks (SymbiYosys, pip-only): see docs/formal.md."""
