/* A freestanding test guest for hutch's builtin VMM (microvm/): no libc, booted through PVH.
 * It reads its test from the kernel command line ("test=NAME key=value ..."), checks what the VMM
 * handed it, prints on the serial console, and exits through the VMM's exit device with 0 when
 * every check passed, or 1 after a line "guest: FAIL: ...". The tests are in
 * tests/integration/vmm_test.cpp; the structures are written here from Xen's start_info.h
 * independently of the VMM's, so that a mistake in one does not hide in both. */
#include <stddef.h>
#include <stdint.h>

#define EXIT_PORT 0x501 /* microvm/exit_device.h */
#define SERIAL_PORT 0x3f8
#define PVH_MAGIC 0x336ec578u

struct start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};
struct module_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};
struct memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

/* GCC may emit calls to these even when freestanding. */
void* memset(void* d, int c, size_t n) {
    unsigned char* p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}
void* memcpy(void* d, const void* s, size_t n) {
    unsigned char* p = d;
    const unsigned char* q = s;
    while (n--) *p++ = *q++;
    return d;
}

static void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static uint8_t inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
}

static void put_char(char c) {
    while (!(inb(SERIAL_PORT + 5) & 0x20)) { /* the transmit holding register is busy */
    }
    outb(SERIAL_PORT, (uint8_t)c);
}
static void print(const char* s) {
    while (*s) put_char(*s++);
}
static void print_n(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) put_char(s[i]);
}
static void print_u64(uint64_t v) {
    char digits[21];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) put_char(digits[--n]);
}

static __attribute__((noreturn)) void exit_vm(uint8_t code) {
    outb(EXIT_PORT, code);
    for (;;) __asm__ volatile("cli; hlt");
}

static int failures;
static void check(int ok, const char* what, uint64_t got, uint64_t expected) {
    if (ok) return;
    ++failures;
    print("guest: FAIL: ");
    print(what);
    print(": got ");
    print_u64(got);
    print(", expected ");
    print_u64(expected);
    print("\n");
}
#define CHECK_EQ(got, expected, what) check((uint64_t)(got) == (uint64_t)(expected), what, got, expected)

/* The command line. */
static const char* cmdline = "";

static size_t length(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}
/* The value of "key=value" on the command line; its length in *n. NULL when absent. */
static const char* arg(const char* key, size_t* n) {
    size_t key_length = length(key);
    for (const char* p = cmdline; *p;) {
        while (*p == ' ') ++p;
        const char* word = p;
        while (*p && *p != ' ') ++p;
        if ((size_t)(p - word) > key_length && word[key_length] == '=') {
            size_t i = 0;
            while (i < key_length && word[i] == key[i]) ++i;
            if (i == key_length) {
                *n = (size_t)(p - word) - key_length - 1;
                return word + key_length + 1;
            }
        }
    }
    return NULL;
}
static int arg_is(const char* key, const char* value) {
    size_t n;
    const char* v = arg(key, &n);
    if (!v || n != length(value)) return 0;
    for (size_t i = 0; i < n; ++i)
        if (v[i] != value[i]) return 0;
    return 1;
}
static uint64_t arg_u64(const char* key, uint64_t fallback) {
    size_t n;
    const char* v = arg(key, &n);
    if (!v) return fallback;
    uint64_t value = 0;
    for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9'; ++i) value = value * 10 + (uint64_t)(v[i] - '0');
    return value;
}

/* test=start_info mem_mib=N [initrd_size=N initrd_sum=N]: the start_info, the memory map and
 * the module list describe what the VMM was asked for. */
static void test_start_info(const struct start_info* info) {
    CHECK_EQ(info->magic, PVH_MAGIC, "start_info magic");
    check(info->version >= 1, "start_info version", info->version, 1);
    uint64_t mem = arg_u64("mem_mib", 0) << 20;
    const struct memmap_entry* map = (const struct memmap_entry*)(uintptr_t)info->memmap_paddr;
    uint64_t ram = 0, ram_end = 0, reserved = 0;
    for (uint32_t i = 0; i < info->memmap_entries; ++i) {
        print("guest: memmap ");
        print_u64(map[i].addr);
        print(" +");
        print_u64(map[i].size);
        print(" type ");
        print_u64(map[i].type);
        print("\n");
        if (map[i].type == 1) {
            ram += map[i].size;
            if (map[i].addr + map[i].size > ram_end) ram_end = map[i].addr + map[i].size;
        } else {
            reserved += map[i].size;
        }
        CHECK_EQ(map[i].reserved, 0, "memmap entry's reserved field");
        if (i > 0) check(map[i].addr >= map[i - 1].addr + map[i - 1].size, "memmap sorted", map[i].addr, 0);
    }
    CHECK_EQ(ram_end, mem, "end of RAM in the memmap");
    CHECK_EQ(ram + reserved, mem, "RAM and reserved regions cover memory");

    uint64_t initrd_size = arg_u64("initrd_size", 0);
    CHECK_EQ(info->nr_modules, initrd_size ? 1 : 0, "modules");
    if (initrd_size && info->nr_modules == 1) {
        const struct module_entry* module = (const struct module_entry*)(uintptr_t)info->modlist_paddr;
        CHECK_EQ(module->size, initrd_size, "initrd size");
        CHECK_EQ(module->paddr % 4096, 0, "initrd alignment");
        check(module->paddr + module->size <= ram_end, "initrd inside RAM", module->paddr, ram_end);
        uint32_t sum = 0;
        const uint8_t* bytes = (const uint8_t*)(uintptr_t)module->paddr;
        for (uint64_t i = 0; i < module->size; ++i) sum = sum * 31 + bytes[i];
        CHECK_EQ(sum, arg_u64("initrd_sum", 0), "initrd checksum");
    }
}

/* test=cpuid vcpus=N: the VMM's CPUID changes. */
static void test_cpuid(void) {
    uint32_t r[4];
    uint32_t vcpus = (uint32_t)arg_u64("vcpus", 1);
    cpuid(1, 0, r);
    CHECK_EQ(r[2] >> 31, 1, "CPUID.1 ECX hypervisor bit");
    CHECK_EQ(r[1] >> 24, 0, "CPUID.1 EBX initial APIC id of the boot vCPU");
    CHECK_EQ((r[1] >> 16) & 0xff, vcpus, "CPUID.1 EBX logical processors");
    /* HTT must be set for more than one; for one it says nothing (this host's KVM sets it anyway). */
    if (vcpus > 1) CHECK_EQ((r[3] >> 28) & 1, 1, "CPUID.1 EDX HTT");
    cpuid(0x40000000, 0, r);
    const char kvm[12] = "KVMKVMKVM\0\0";
    uint32_t expected[3];
    memcpy(expected, kvm, sizeof expected);
    check(r[1] == expected[0] && r[2] == expected[1] && r[3] == expected[2], "CPUID.0x40000000 KVM signature", r[1],
          expected[0]);
    cpuid(0, 0, r);
    if (r[0] >= 0xb) {
        cpuid(0xb, 1, r);
        CHECK_EQ(r[1] & 0xffff, vcpus, "CPUID.0xb.1 EBX processors at the core level");
        CHECK_EQ(r[3], 0, "CPUID.0xb EDX x2APIC id of the boot vCPU");
    }
}

/* test=serial lines=N: N numbered lines, each longer than the last, for the host to compare. */
static void test_serial(void) {
    uint64_t lines = arg_u64("lines", 1);
    for (uint64_t i = 1; i <= lines; ++i) {
        print("line ");
        print_u64(i);
        print(":");
        for (uint64_t j = 0; j < i; ++j) put_char((char)('a' + j % 26));
        print("\n");
    }
}

/* test=triple_fault: an exception (ud2: an undefined opcode) with no IDT to handle it, so a
 * double fault, then a triple fault: the processor shuts down and the VMM reports it. Not int3:
 * software nested KVM (kvm_pvm) fails to emulate it instead. */
static void test_triple_fault(void) {
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } empty = {0, 0};
    __asm__ volatile("lidt %0; ud2" : : "m"(empty));
}

/* test=hang: halts with interrupts off, for ever; the VMM's time limit ends it. */
static void test_hang(void) {
    for (;;) __asm__ volatile("cli; hlt");
}

void guest_main(const struct start_info* info) {
    if (info->magic == PVH_MAGIC && info->cmdline_paddr) cmdline = (const char*)(uintptr_t)info->cmdline_paddr;
    print("guest: cmdline: ");
    print_n(cmdline, length(cmdline));
    print("\n");
    if (arg_is("test", "exit")) exit_vm((uint8_t)arg_u64("code", 0));
    if (arg_is("test", "start_info")) test_start_info(info);
    else if (arg_is("test", "cpuid")) test_cpuid();
    else if (arg_is("test", "serial")) test_serial();
    else if (arg_is("test", "triple_fault")) test_triple_fault();
    else if (arg_is("test", "hang")) test_hang();
    else {
        print("guest: FAIL: no known test= on the command line\n");
        exit_vm(1);
    }
    print(failures ? "guest: failed\n" : "guest: ok\n");
    exit_vm(failures ? 1 : 0);
}
