#include "cgroups/device_program.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"

namespace hutch::cgroups {
namespace {

// struct bpf_cgroup_dev_ctx: access_type (the device type in the low 16 bits, the access in the
// high 16), major, minor; all u32.
constexpr int16_t kAccessTypeOffset = 0;
constexpr int16_t kMajorOffset = 4;
constexpr int16_t kMinorOffset = 8;

// Registers: r1 is the context on entry; the loads below free it for scratch use.
constexpr uint8_t kScratch = 1, kType = 2, kAccess = 3, kMajor = 4, kMinor = 5;

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

bpf_insn load_u32(uint8_t dst, int16_t offset) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, 1, offset, 0); }
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) {
    return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov64_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
// 32-bit compares: device numbers are u32, and a 64-bit compare would sign-extend the immediate.
bpf_insn jump32_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
    return insn(BPF_JMP32 | op | BPF_K, dst, 0, off, imm);
}
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int32_t type_bits(const std::string& type) { return type == "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR; }

int32_t access_bits(const std::string& access) {
    int32_t bits = 0;
    for (char c : access) {
        if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
        if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
        if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    }
    return bits;
}

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

// One exception: a run of "skip to the next exception unless ..." tests, then the verdict.
// An allowed exception covers a request only when it allows every access asked for (v1's rule);
// a denied one refuses a request that asks for any access it denies.
std::vector<bpf_insn> exception_block(const spec::DeviceRule& rule) {
    std::vector<bpf_insn> tests;
    if (rule.type != "a") tests.push_back(jump32_imm(BPF_JNE, kType, type_bits(rule.type), 0));
    int32_t bits = access_bits(rule.access);
    if (bits != kAllAccess || !rule.allow) {
        tests.push_back(mov64_reg(kScratch, kAccess));
        tests.push_back(alu32_imm(BPF_AND, kScratch, rule.allow ? ~bits & kAllAccess : bits));
        tests.push_back(jump32_imm(rule.allow ? BPF_JNE : BPF_JEQ, kScratch, 0, 0));
    }
    if (rule.major && *rule.major >= 0)
        tests.push_back(jump32_imm(BPF_JNE, kMajor, static_cast<int32_t>(*rule.major), 0));
    if (rule.minor && *rule.minor >= 0)
        tests.push_back(jump32_imm(BPF_JNE, kMinor, static_cast<int32_t>(*rule.minor), 0));
    tests.push_back(mov64_imm(0, rule.allow ? 1 : 0));
    tests.push_back(exit_insn());
    // Each jump skips what is left of the block: to the first instruction of the next one.
    for (size_t i = 0; i < tests.size(); ++i) {
        if ((tests[i].code & 0x07) == BPF_JMP32) tests[i].off = static_cast<int16_t>(tests.size() - i - 1);
    }
    return tests;
}

long bpf(int command, bpf_attr& attr) { return ::syscall(SYS_bpf, command, &attr, sizeof attr); }

}  // namespace

std::vector<bpf_insn> compile_device_program(const DevicePolicy& policy) {
    std::vector<bpf_insn> program = {
        load_u32(kType, kAccessTypeOffset),   alu32_imm(BPF_AND, kType, 0xffff),
        load_u32(kAccess, kAccessTypeOffset), alu32_imm(BPF_RSH, kAccess, 16),
        load_u32(kMajor, kMajorOffset),       load_u32(kMinor, kMinorOffset),
    };
    for (const spec::DeviceRule& exception : policy.exceptions) {
        std::vector<bpf_insn> block = exception_block(exception);
        program.insert(program.end(), block.begin(), block.end());
    }
    program.push_back(mov64_imm(0, policy.default_allow ? 1 : 0));
    program.push_back(exit_insn());
    return program;
}

ErrorOr<void> attach_device_program(int cgroup_fd, const DevicePolicy& policy) {
    std::vector<bpf_insn> program = compile_device_program(policy);
    static const char kLicense[] = "GPL";
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(program.data());
    load.insn_cnt = static_cast<uint32_t>(program.size());
    load.license = reinterpret_cast<uint64_t>(kLicense);
    UniqueFd prog(static_cast<int>(bpf(BPF_PROG_LOAD, load)));
    if (!prog) return fail_errno("linux.resources.devices: load the cgroup v2 device program (bpf)");
    bpf_attr attach{};
    attach.target_fd = static_cast<uint32_t>(cgroup_fd);
    attach.attach_bpf_fd = static_cast<uint32_t>(prog.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attach) != 0)
        return fail_errno("linux.resources.devices: attach the device program to the container's cgroup");
    return {};  // the attachment holds the program: its fd may close
}

}  // namespace hutch::cgroups
