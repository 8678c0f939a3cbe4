"""Formal proofs of the stream blocks and the direct engine's top (SymbiYosys, pip-only).

- `props`: free inputs, the stream rules, counters, the tracked element;
- `probe`: a block's registers and memory rows, read without changing its netlist;
- one harness module per block: `slices` (SkidBuffer, RegisterSlice and the broken
  variants), `framer`, `credit_buffer`, `requantizer`, `direct_top`;
- `proofs`: the list of proofs and `run_proof`; `sby`: running SymbiYosys and Yosys;
- ``python -m sim.formal``: the command line.

What each proof proves, its assumptions and how to run it: docs/formal.md.
"""
