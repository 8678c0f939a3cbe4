// Batch driver for a Verilated ParC engine top (hw.top.AxisTop ports).
//
// cocotb is the verification bench; this driver exists for volume: it streams millions of
// samples through the same RTL (report's RTL-in-the-loop, benchmarks) with the same
// valid/ready rules and seeded random bubbles/backpressure, at Verilator speed.
//
// usage: batch <in.bin> <out.bin> <in_bits> <out_bits> <bubble> <backpressure> <seed> <max_cycles> <expected_outputs> [idle_limit]
//   in.bin : int32 sample, int32 last  (pairs, little endian)
//   out.bin: int32 sample, int32 last  (pairs) of every output transfer
// prints one JSON line: cycles, inputs, outputs, first/last output cycle.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

static uint64_t rng_state;
static double uniform() {  // xorshift64*: reproducible pauses without <random> overhead
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int32_t sign_extend(uint64_t value, int bits) {
    const uint64_t mask = (bits >= 64) ? ~0ULL : ((1ULL << bits) - 1);
    value &= mask;
    if (value & (1ULL << (bits - 1))) return (int32_t)(int64_t)(value | ~mask);
    return (int32_t)value;
}

int main(int argc, char** argv) {
    if (argc != 10 && argc != 11) {
        std::fprintf(stderr, "usage: %s in.bin out.bin in_bits out_bits bubble backpressure seed max_cycles expected_outputs [idle_limit]\n", argv[0]);
        return 2;
    }
    FILE* fin = std::fopen(argv[1], "rb");
    if (!fin) { std::perror(argv[1]); return 2; }
    std::vector<int32_t> input;
    int32_t pair[2];
    while (std::fread(pair, sizeof(int32_t), 2, fin) == 2) { input.push_back(pair[0]); input.push_back(pair[1]); }
    std::fclose(fin);
    const int in_bits = std::atoi(argv[3]);
    const int out_bits = std::atoi(argv[4]);
    const double bubble = std::atof(argv[5]);
    const double backpressure = std::atof(argv[6]);
    rng_state = std::strtoull(argv[7], nullptr, 10) * 0x9E3779B97F4A7C15ULL + 1;
    const uint64_t max_cycles = std::strtoull(argv[8], nullptr, 10);
    const size_t beats = input.size() / 2;
    const size_t expected = std::strtoull(argv[9], nullptr, 10);
    // output silent this long after all input: stop (a hang); a design whose latency is longer
    // (the token mixer holds a map and a half) passes its own bound
    const uint64_t idle_limit = argc == 11 ? std::strtoull(argv[10], nullptr, 10) : 4096;

    auto context = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(context.get());
    std::vector<int32_t> output;
    output.reserve(input.size());

    top->clk = 0;
    top->rst = 1;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 0;
    for (int i = 0; i < 3; ++i) { top->clk = 1; top->eval(); top->clk = 0; top->eval(); }
    top->rst = 0;

    const uint64_t in_mask = (in_bits >= 64) ? ~0ULL : ((1ULL << in_bits) - 1);
    size_t sent = 0;
    bool valid = false;
    uint64_t cycle = 0, first_out = 0, last_out = 0, idle = 0, tail = 0;
    const uint64_t tail_cycles = 256;  // keep running after the expected count: extra beats are a bug
    while (cycle < max_cycles && (output.size() / 2 < expected || tail++ < tail_cycles)) {
        if (!valid && sent < beats && uniform() >= bubble) {
            valid = true;
            top->s_axis_tdata = (uint64_t)(int64_t)input[2 * sent] & in_mask;
            top->s_axis_tlast = input[2 * sent + 1] ? 1 : 0;
        }
        top->s_axis_tvalid = valid;
        top->m_axis_tready = uniform() >= backpressure;
        top->eval();
        const bool in_fire = valid && top->s_axis_tready;
        if (top->m_axis_tvalid && top->m_axis_tready) {
            if (output.empty()) first_out = cycle;
            last_out = cycle;
            output.push_back(sign_extend(top->m_axis_tdata, out_bits));
            output.push_back(top->m_axis_tlast ? 1 : 0);
        }
        top->clk = 1; top->eval(); top->clk = 0; top->eval();
        ++cycle;
        if (in_fire) { ++sent; valid = false; }
        if (sent >= beats && !valid) {
            idle = top->m_axis_tvalid ? 0 : idle + 1;
            if (idle > idle_limit) break;
        }
    }
    top->final();

    FILE* fout = std::fopen(argv[2], "wb");
    if (!fout) { std::perror(argv[2]); return 2; }
    std::fwrite(output.data(), sizeof(int32_t), output.size(), fout);
    std::fclose(fout);
    std::printf("{\"cycles\": %llu, \"inputs\": %zu, \"outputs\": %zu, \"first_output_cycle\": %llu, \"last_output_cycle\": %llu}\n",
                (unsigned long long)cycle, sent, output.size() / 2, (unsigned long long)first_out,
                (unsigned long long)last_out);
    return 0;
}
