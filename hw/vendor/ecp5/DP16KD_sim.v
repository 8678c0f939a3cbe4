// Behavioural twin of the Lattice ECP5 DP16KD block RAM, for simulation only: never give this
// file to synthesis (yosys and nextpnr know the real primitive; see share/ecp5/cells_bb.v).
//
// Part of parc-hw (hw/target.py, hw/ecp5.py). Written from the documented behaviour of the
// sysMEM block for the one configuration hw.ecp5.dp16kd instantiates (pseudo dual port),
// and refused at elaboration for any other:
//   DATA_WIDTH_A = DATA_WIDTH_B in 18, 9, 4, 2, 1; CSDECODE_A/B "0b000";
//   port A writes only: WRITEMODE_A "NORMAL", REGMODE_A "NOREG", its read data (DOA) open;
//   port B reads only (WEB 0): REGMODE_B "OUTREG", RESETMODE "SYNC".
// Port A: on CLKA, when CEA and WEA and CSA = CSDECODE_A, DIA is written at ADA (x18: each
// 9-bit byte only where its enable ADA0 (bits 8..0) / ADA1 (bits 17..9) is high).
// Port B: on CLKB, the read latch takes the word at ADB when CEB (and CSB = CSDECODE_B),
// the output register takes the latch when OCEB; RSTB clears both, whatever CEB/OCEB are
// (synchronous reset). DOB is the output register: two enabled cycles from address to data.
// Array and INITVAL layout: 1024 words of 18 bits, INITVAL_xx holding words 16*xx .. 16*xx+15
// in 20-bit fields; a width-W port addresses word AD13..AD4 and, below it, x9 the half AD3,
// x4/x2/x1 the W-bit group AD3..AD(log2 W) of the 16 data bits (bits 8 and 17 are parity,
// reached only by x9 and x18). hw.ecp5 documents and uses the same layout.
/* verilator lint_off DECLFILENAME */
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
`default_nettype none
module DP16KD (
    DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2,
    DIA1, DIA0, ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0, CEA,
    OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0, DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9,
    DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0, ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6,
    ADB5, ADB4, ADB3, ADB2, ADB1, ADB0, CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0, DOB17, DOB16, DOB15,
    DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    input wire DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3,
        DIA2, DIA1, DIA0;
    input wire ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0;
    input wire CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0;
    input wire DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3,
        DIB2, DIB1, DIB0;
    input wire ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0;
    input wire CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0;
    output wire DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3,
        DOB2, DOB1, DOB0;

    parameter integer DATA_WIDTH_A = 18;
    parameter integer DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter GSR = "ENABLED";
    parameter [319:0] INITVAL_00 = 320'h0;
    parameter [319:0] INITVAL_01 = 320'h0;
    parameter [319:0] INITVAL_02 = 320'h0;
    parameter [319:0] INITVAL_03 = 320'h0;
    parameter [319:0] INITVAL_04 = 320'h0;
    parameter [319:0] INITVAL_05 = 320'h0;
    parameter [319:0] INITVAL_06 = 320'h0;
    parameter [319:0] INITVAL_07 = 320'h0;
    parameter [319:0] INITVAL_08 = 320'h0;
    parameter [319:0] INITVAL_09 = 320'h0;
    parameter [319:0] INITVAL_0A = 320'h0;
    parameter [319:0] INITVAL_0B = 320'h0;
    parameter [319:0] INITVAL_0C = 320'h0;
    parameter [319:0] INITVAL_0D = 320'h0;
    parameter [319:0] INITVAL_0E = 320'h0;
    parameter [319:0] INITVAL_0F = 320'h0;
    parameter [319:0] INITVAL_10 = 320'h0;
    parameter [319:0] INITVAL_11 = 320'h0;
    parameter [319:0] INITVAL_12 = 320'h0;
    parameter [319:0] INITVAL_13 = 320'h0;
    parameter [319:0] INITVAL_14 = 320'h0;
    parameter [319:0] INITVAL_15 = 320'h0;
    parameter [319:0] INITVAL_16 = 320'h0;
    parameter [319:0] INITVAL_17 = 320'h0;
    parameter [319:0] INITVAL_18 = 320'h0;
    parameter [319:0] INITVAL_19 = 320'h0;
    parameter [319:0] INITVAL_1A = 320'h0;
    parameter [319:0] INITVAL_1B = 320'h0;
    parameter [319:0] INITVAL_1C = 320'h0;
    parameter [319:0] INITVAL_1D = 320'h0;
    parameter [319:0] INITVAL_1E = 320'h0;
    parameter [319:0] INITVAL_1F = 320'h0;
    parameter [319:0] INITVAL_20 = 320'h0;
    parameter [319:0] INITVAL_21 = 320'h0;
    parameter [319:0] INITVAL_22 = 320'h0;
    parameter [319:0] INITVAL_23 = 320'h0;
    parameter [319:0] INITVAL_24 = 320'h0;
    parameter [319:0] INITVAL_25 = 320'h0;
    parameter [319:0] INITVAL_26 = 320'h0;
    parameter [319:0] INITVAL_27 = 320'h0;
    parameter [319:0] INITVAL_28 = 320'h0;
    parameter [319:0] INITVAL_29 = 320'h0;
    parameter [319:0] INITVAL_2A = 320'h0;
    parameter [319:0] INITVAL_2B = 320'h0;
    parameter [319:0] INITVAL_2C = 320'h0;
    parameter [319:0] INITVAL_2D = 320'h0;
    parameter [319:0] INITVAL_2E = 320'h0;
    parameter [319:0] INITVAL_2F = 320'h0;
    parameter [319:0] INITVAL_30 = 320'h0;
    parameter [319:0] INITVAL_31 = 320'h0;
    parameter [319:0] INITVAL_32 = 320'h0;
    parameter [319:0] INITVAL_33 = 320'h0;
    parameter [319:0] INITVAL_34 = 320'h0;
    parameter [319:0] INITVAL_35 = 320'h0;
    parameter [319:0] INITVAL_36 = 320'h0;
    parameter [319:0] INITVAL_37 = 320'h0;
    parameter [319:0] INITVAL_38 = 320'h0;
    parameter [319:0] INITVAL_39 = 320'h0;
    parameter [319:0] INITVAL_3A = 320'h0;
    parameter [319:0] INITVAL_3B = 320'h0;
    parameter [319:0] INITVAL_3C = 320'h0;
    parameter [319:0] INITVAL_3D = 320'h0;
    parameter [319:0] INITVAL_3E = 320'h0;
    parameter [319:0] INITVAL_3F = 320'h0;

    localparam integer W = DATA_WIDTH_B;
    localparam SUPPORTED =
        DATA_WIDTH_A == DATA_WIDTH_B &&
        (W == 18 || W == 9 || W == 4 || W == 2 || W == 1) &&
        REGMODE_A == "NOREG" && REGMODE_B == "OUTREG" && RESETMODE == "SYNC" &&
        CSDECODE_A == "0b000" && CSDECODE_B == "0b000" && WRITEMODE_A == "NORMAL";
    generate
        if (!SUPPORTED) begin : unsupported
            DP16KD_sim_models_only_pseudo_dual_port_with_OUTREG_on_port_B unsupported_configuration ();
        end
    endgenerate

    localparam [20479:0] INIT = {INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39, INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32, INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B, INITVAL_2A, INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24, INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D, INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16, INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10, INITVAL_0F, INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08, INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02, INITVAL_01, INITVAL_00};

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    wire select_a = {CSA2, CSA1, CSA0} == 3'b000;
    wire select_b = {CSB2, CSB1, CSB0} == 3'b000;

    reg [17:0] mem [0:1023];
    reg [17:0] latch_b;
    reg [17:0] out_b;
    integer k;
    initial begin  // registers start at 0, the array at INITVAL, after configuration
        latch_b = 18'd0;
        out_b = 18'd0;
        for (k = 0; k < 1024; k = k + 1) mem[k] = INIT[k * 20 +: 18];
    end

    // Where bit `i` of the width-W word at `ad` lives in physical word ad[13:4].
    function integer position(input [13:0] ad, input integer i);
        integer low, d;
        begin
            low = {28'd0, ad[3:0]};
            if (W == 18) position = i;
            else if (W == 9) position = (ad[3] ? 9 : 0) + i;
            else begin
                d = low - low % W + i;  // the W-bit group AD3..AD(log2 W) of the 16 data bits
                position = d < 8 ? d : d + 1;   // skip parity bit 8
            end
        end
    endfunction

    integer i;
    always @(posedge CLKA) begin
        if (CEA && WEA && select_a) begin
            for (i = 0; i < W; i = i + 1) begin
                if (W != 18 || (i < 9 ? ada[0] : ada[1])) mem[ada[13:4]][position(ada, i)] <= dia[i];
            end
        end
    end

    reg [17:0] word_b;
    integer j;
    always @(*) begin
        word_b = 18'd0;
        for (j = 0; j < W; j = j + 1) word_b[j] = mem[adb[13:4]][position(adb, j)];
    end

    always @(posedge CLKB) begin
        if (RSTB) begin
            latch_b <= 18'd0;
            out_b <= 18'd0;
        end else begin
            if (CEB && select_b) latch_b <= word_b;
            if (OCEB) out_b <= latch_b;
        end
    end

    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = out_b;
endmodule
`default_nettype wire
