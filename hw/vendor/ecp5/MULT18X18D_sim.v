// Behavioural twin of the Lattice ECP5 MULT18X18D, for simulation only: never give this file
// to synthesis (yosys and nextpnr know the real primitive; see share/ecp5/cells_bb.v).
//
// Part of parc-hw (hw/target.py, hw/ecp5.py). Written from the documented behaviour of the
// sysDSP block for the one configuration hw.ecp5.mult18x18d instantiates, and refused at
// elaboration for any other:
//   REG_INPUTA/REG_INPUTB/REG_PIPELINE on CLK0, CE0, RST0; REG_OUTPUT the same or off
//   ("NONE": P is the pipeline register, two CE0 cycles); REG_INPUTC off;
//   RESETMODE "SYNC" (RST0 clears every register on a clock edge, whatever CE0 is);
//   MULT_BYPASS "DISABLED"; SOURCEA/SOURCEB 0 (parallel inputs, no shift chain).
// P = A * B, each operand extended by its SIGNEDA/SIGNEDB flag (registered with it), after
// the input, pipeline and output registers: three CE0 cycles (two without the output one). C (tied 0) is not used by
// this configuration. Only the ports hw.ecp5 connects are declared: CLK1..3, CE1..3,
// RST1..3, the shift inputs SRIA/SRIB and the ROA/ROB/ROC, SROA/SROB, SIGNEDP outputs are
// left open there (as yosys' own MULT18X18D mapping does) and are not modelled.
/* verilator lint_off DECLFILENAME */
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
`default_nettype none
module MULT18X18D (
    A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0, B17, B16, B15, B14, B13,
    B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0, C17, C16, C15, C14, C13, C12, C11, C10, C9, C8,
    C7, C6, C5, C4, C3, C2, C1, C0, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CE0, RST0, P35, P34, P33, P32,
    P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11,
    P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
    input wire A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0;
    input wire B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0;
    input wire C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0;
    input wire SIGNEDA, SIGNEDB, SOURCEA, SOURCEB;
    input wire CLK0, CE0, RST0;
    output wire P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16,
        P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0;

    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter RESETMODE = "SYNC";
    parameter GSR = "ENABLED";
    parameter MULT_BYPASS = "DISABLED";

    localparam SUPPORTED =
        REG_INPUTA_CLK == "CLK0" && REG_INPUTA_CE == "CE0" && REG_INPUTA_RST == "RST0" &&
        REG_INPUTB_CLK == "CLK0" && REG_INPUTB_CE == "CE0" && REG_INPUTB_RST == "RST0" &&
        REG_PIPELINE_CLK == "CLK0" && REG_PIPELINE_CE == "CE0" && REG_PIPELINE_RST == "RST0" &&
        (REG_OUTPUT_CLK == "NONE" || (REG_OUTPUT_CLK == "CLK0" && REG_OUTPUT_CE == "CE0" && REG_OUTPUT_RST == "RST0")) &&
        REG_INPUTC_CLK == "NONE" && RESETMODE == "SYNC" && MULT_BYPASS == "DISABLED";
    generate
        if (!SUPPORTED) begin : unsupported
            MULT18X18D_sim_models_only_registers_on_CLK0_CE0_RST0_with_sync_reset unsupported_configuration ();
        end
    endgenerate

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg [17:0] a_reg;
    reg [17:0] b_reg;
    reg signed_a;
    reg signed_b;
    reg [35:0] m_reg;
    reg [35:0] p_reg;
    initial begin  // registers start at 0 after configuration
        a_reg = 18'd0;
        b_reg = 18'd0;
        signed_a = 1'b0;
        signed_b = 1'b0;
        m_reg = 36'd0;
        p_reg = 36'd0;
    end
    // The low 36 bits of the product of the 36-bit extensions: exact for every signedness.
    wire [35:0] a_ext = {{18{signed_a & a_reg[17]}}, a_reg};
    wire [35:0] b_ext = {{18{signed_b & b_reg[17]}}, b_reg};
    wire [71:0] product = a_ext * b_ext;

    always @(posedge CLK0) begin
        if (RST0) begin
            a_reg <= 18'd0;
            b_reg <= 18'd0;
            signed_a <= 1'b0;
            signed_b <= 1'b0;
            m_reg <= 36'd0;
            p_reg <= 36'd0;
        end else if (CE0) begin
            a_reg <= a;
            b_reg <= b;
            signed_a <= SIGNEDA;
            signed_b <= SIGNEDB;
            m_reg <= product[35:0];
            p_reg <= m_reg;
        end
    end

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = REG_OUTPUT_CLK == "NONE" ? m_reg : p_reg;
endmodule
`default_nettype wire
