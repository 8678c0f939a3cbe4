"""Which top-module names a user may choose.

The name becomes the Verilog module, the file names ``<top>.v``/``<top>.vlt`` and the
simulator build folders, and drivers read it back from ``manifest.json``. A keyword would
be escaped by the Verilog backend (``\\module``) while the manifest still said ``module``,
and a very long name overflows file-name limits once suffixes are added, so both are
refused up front instead of producing a design whose parts disagree.
"""

from __future__ import annotations

import re

from golden.cli import UserError

MAX_TOP_NAME = 128  # leaves room for "-verilator-<hash>" and ".vlt" under the 255-byte file-name limit
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# IEEE 1800-2017 (SystemVerilog, a superset of Verilog-2005) reserved words: Verilator parses SV.
VERILOG_KEYWORDS = frozenset(
    """
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before
begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class
clocking cmos config const constraint context continue cover covergroup coverpoint cross deassign
default defparam design disable dist do edge else end endcase endchecker endclass endclocking
endconfig endfunction endgenerate endgroup endinterface endmodule endpackage endprimitive
endprogram endproperty endspecify endsequence endtable endtask enum event eventually expect export
extends extern final first_match for force foreach forever fork forkjoin function generate genvar
global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies import incdir include
initial inout input inside instance int integer interconnect interface intersect join join_any
join_none large let liblist library local localparam logic longint macromodule matches medium
modport module nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or
output package packed parameter pmos posedge primitive priority program property protected pull0
pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase randsequence
rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos rtran rtranif0
rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared sequence shortint shortreal
showcancelled signed small soft solve specify specparam static string strong strong0 strong1 struct
super supply0 supply1 sync_accept_on sync_reject_on table tagged task this throughout time
timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg type typedef union
unique unique0 unsigned until until_with untyped use uwire var vectored virtual void wait wait_order
wand weak weak0 weak1 while wildcard wire with within wor xnor xor
""".split()
)


def check_top_name(name: str) -> str:
    """Return ``name`` if it is a plain, non-reserved Verilog identifier; else raise UserError."""
    if not _IDENTIFIER.match(name):
        raise UserError(
            f"--name must be a Verilog identifier (letters, digits, '_'; not starting with a digit); got {name!r}"
        )
    if name in VERILOG_KEYWORDS:
        raise UserError(f"--name {name!r} is a (System)Verilog keyword; choose another top module name")
    if len(name) > MAX_TOP_NAME:
        raise UserError(f"--name is {len(name)} characters long; at most {MAX_TOP_NAME} are allowed")
    return name
