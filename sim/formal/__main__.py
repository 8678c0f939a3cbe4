"""``python -m sim.formal``: prove the stream blocks with SymbiYosys (k-induction + cover).

Example::

    python -m sim.formal                  # every proof; a JSON summary is the last line
    python -m sim.formal --only framer --only skid
    python -m sim.formal --list

Prints one line per proof as it finishes, then ``{"proofs": {name: "pass"|"fail"|"error"},
"seconds": ...}``. Exit status: 0 when every proof run passed, 1 otherwise, 2 for a bad
option. The deliberately broken variants (``broken_*``) run only when named with ``--only``;
they are expected to fail (docs/formal.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from golden.cli import Parser, UserError, run
from sim.formal.proofs import PROOFS, Proof, run_proof


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "sim.formal",
        "Formal proofs (SymbiYosys, k-induction and cover) of the stream blocks; docs/formal.md.",
        "python -m sim.formal --only skid --only framer",
    )
    p.add_argument("--only", action="append", metavar="NAME", help="run only this proof (repeat for more); see --list")
    p.add_argument("--list", action="store_true", help="list the proofs and what each proves, then exit")
    p.add_argument("--keep", action="store_true", help="keep each proof's work folder (traces) and print where it is")
    return p


def selected(names: list[str] | None) -> list[Proof]:
    """The proofs to run: the named ones, or every proof that is expected to pass."""
    if not names:
        return [p for p in PROOFS.values() if p.expect == "pass"]
    unknown = [n for n in names if n not in PROOFS]
    if unknown:
        raise UserError(f"--only: unknown proof {', '.join(unknown)}; choose from {', '.join(PROOFS)}")
    return [PROOFS[n] for n in dict.fromkeys(names)]


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    proofs = selected(args.only)
    if args.list:
        for p in PROOFS.values():
            note = " (must fail)" if p.expect == "fail" else ""
            print(f"{p.name:18s} {p.cost:5s} {p.what}{note}")
        return 0
    start = time.monotonic()
    statuses: dict[str, str] = {}
    for proof in proofs:
        outcome = run_proof(proof, keep=args.keep)
        statuses[proof.name] = outcome.status
        line = f"{proof.name:18s} {outcome.status:5s} {outcome.seconds:6.1f} s"
        if outcome.detail:
            line += f"  {outcome.detail}"
        if outcome.work_dir is not None:
            line += f"  [kept: {outcome.work_dir}]"
        print(line, flush=True)
    print(json.dumps({"proofs": statuses, "seconds": round(time.monotonic() - start, 1)}))
    return 0 if all(s == "pass" for s in statuses.values()) else 1


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m sim.formal", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
