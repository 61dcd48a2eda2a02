/* A freestanding test guest for hutch's builtin VMM (microvm/): no libc, booted through PVH (entry.S)
 * or, built as a bzImage, through Linux's 64-bit boot protocol (bzimage.S, boot_params.c).
 * It reads its test from the kernel command line ("test=NAME key=value ..."), checks what the VMM
 * handed it, prints on the serial console, and exits through the VMM's exit device with 0 when
 * every check passed, or 1 after a line "guest: FAIL: ...". The tests are in
 * tests/integration/vmm_test.cpp; the structures are written here from Xen's start_info.h
 * independently of the VMM's, so that a mistake in one does not hide in both. */
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

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
void print(const char* s) {
    while (*s) put_char(*s++);
}
static void print_n(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) put_char(s[i]);
}
void print_u64(uint64_t v) {
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

int failures;
void check(int ok, const char* what, uint64_t got, uint64_t expected) {
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

/* The command line. */
const char* cmdline = "";

size_t length(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}
/* The value of the first "key=value" on the command line from `p`; its length in *n. NULL when
 * absent. */
static const char* arg_from(const char* p, const char* key, size_t* n) {
    size_t key_length = length(key);
    while (*p) {
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
const char* arg(const char* key, size_t* n) { return arg_from(cmdline, key, n); }
int arg_is(const char* key, const char* value) {
    size_t n;
    const char* v = arg(key, &n);
    if (!v || n != length(value)) return 0;
    for (size_t i = 0; i < n; ++i)
        if (v[i] != value[i]) return 0;
    return 1;
}
uint64_t arg_u64(const char* key, uint64_t fallback) {
    size_t n;
    const char* v = arg(key, &n);
    if (!v) return fallback;
    uint64_t value = 0;
    for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9'; ++i) value = value * 10 + (uint64_t)(v[i] - '0');
    return value;
}

/* test=start_info mem_mib=N [initrd_size=N initrd_sum=N]: the start_info, the memory map and
 * the module list describe what the VMM was asked for. */
void add_region(struct memory_map_sum* sum, const char* map, uint64_t addr, uint64_t size, uint32_t type) {
    print("guest: ");
    print(map);
    print(" ");
    print_u64(addr);
    print(" +");
    print_u64(size);
    print(" type ");
    print_u64(type);
    print("\n");
    if (type == 1) {
        sum->ram += size;
        if (addr + size > sum->ram_end) sum->ram_end = addr + size;
    } else {
        sum->reserved += size;
    }
    if (sum->regions++ > 0) check(addr >= sum->end, "memory map sorted", addr, sum->end);
    sum->end = addr + size;
}

void check_memory_map(const struct memory_map_sum* sum) {
    uint64_t mem = arg_u64("mem_mib", 0) << 20;
    CHECK_EQ(sum->ram_end, mem, "end of RAM in the memory map");
    CHECK_EQ(sum->ram + sum->reserved, mem, "RAM and reserved regions cover memory");
}

void check_initrd(uint64_t paddr, uint64_t size, uint64_t ram_end) {
    CHECK_EQ(size, arg_u64("initrd_size", 0), "initrd size");
    CHECK_EQ(paddr % 4096, 0, "initrd alignment");
    check(paddr + size <= ram_end, "initrd inside RAM", paddr, ram_end);
    uint32_t sum = 0;
    const uint8_t* bytes = (const uint8_t*)(uintptr_t)paddr;
    for (uint64_t i = 0; i < size; ++i) sum = sum * 31 + bytes[i];
    CHECK_EQ(sum, arg_u64("initrd_sum", 0), "initrd checksum");
}

static void test_start_info(const struct start_info* info) {
    if (!info) {
        print("guest: FAIL: test=start_info needs the PVH boot\n");
        ++failures;
        return;
    }
    CHECK_EQ(info->magic, PVH_MAGIC, "start_info magic");
    check(info->version >= 1, "start_info version", info->version, 1);
    const struct memmap_entry* map = (const struct memmap_entry*)(uintptr_t)info->memmap_paddr;
    struct memory_map_sum sum = {0};
    for (uint32_t i = 0; i < info->memmap_entries; ++i) {
        add_region(&sum, "memmap", map[i].addr, map[i].size, map[i].type);
        CHECK_EQ(map[i].reserved, 0, "memmap entry's reserved field");
    }
    check_memory_map(&sum);

    uint64_t initrd_size = arg_u64("initrd_size", 0);
    CHECK_EQ(info->nr_modules, initrd_size ? 1 : 0, "modules");
    if (initrd_size && info->nr_modules == 1) {
        const struct module_entry* module = (const struct module_entry*)(uintptr_t)info->modlist_paddr;
        check_initrd(module->paddr, module->size, sum.ram_end);
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

/* Waits for a received byte (LSR's data ready) and reads it from RBR. */
static uint8_t serial_read(void) {
    while (!(inb(SERIAL_PORT + 5) & 0x01)) __asm__ volatile("pause");
    return inb(SERIAL_PORT);
}
/* Sets the UART up for a test of its input, then says so: enabling the FIFOs empties them, so the
 * host sends only after this line. */
static void serial_input_ready(uint8_t fifo_control) {
    outb(SERIAL_PORT + 1, 0x00); /* no interrupts */
    outb(SERIAL_PORT + 2, fifo_control);
    print("guest: serial input ready\n");
}

/* test=serial_input n=N [fifo=0]: reads N bytes of host input, polling LSR, and prints their count
 * and FNV-1a for the host to compare; with the 16-byte FIFOs, or with fifo=0 a byte at a time. */
static void test_serial_input(void) {
    uint64_t n = arg_u64("n", 0);
    serial_input_ready(arg_u64("fifo", 1) ? 0x07 : 0x00);
    uint32_t hash = fnv1a(NULL, 0);
    for (uint64_t i = 0; i < n; ++i) hash = fnv1a_add(hash, serial_read());
    print("guest: serial input: ");
    print_u64(n);
    print(" bytes, fnv1a ");
    print_u64(hash);
    print("\n");
}

/* test=serial_iir n=N: IIR as N bytes of host input wait and are read: no interrupt while IER
 * enables none, "received data available" ahead of "THR empty" once both are enabled, then "THR
 * empty" (which reading IIR clears) once the FIFO is drained, then none. */
static void test_serial_iir(void) {
    uint64_t n = arg_u64("n", 1);
    serial_input_ready(0x07); /* FIFOs on and empty, trigger level 1 byte */
    while (!(inb(SERIAL_PORT + 5) & 0x01)) __asm__ volatile("pause");
    uint8_t disabled = inb(SERIAL_PORT + 2);
    outb(SERIAL_PORT + 1, 0x03); /* received data available, THR empty */
    uint8_t waiting = inb(SERIAL_PORT + 2);
    for (uint64_t i = 0; i < n; ++i) serial_read();
    uint8_t drained = inb(SERIAL_PORT + 2);
    uint8_t after = inb(SERIAL_PORT + 2);
    outb(SERIAL_PORT + 1, 0x00); /* printing would make the THR empty again */
    CHECK_EQ(disabled, 0xc1, "IIR, data waiting, no interrupt enabled");
    CHECK_EQ(waiting, 0xc4, "IIR, data waiting: received data available");
    CHECK_EQ(drained, 0xc2, "IIR, FIFO drained: THR empty");
    CHECK_EQ(after, 0xc1, "IIR, THR empty reported: no interrupt");
}

/* test=serial_stall [spins=N] [code=C]: once host input arrives, reads none of it for N pause
 * loops while the host tries to send more, checks it still waits, and exits with C. */
static void test_serial_stall(void) {
    serial_input_ready(0x07);
    while (!(inb(SERIAL_PORT + 5) & 0x01)) __asm__ volatile("pause");
    for (uint64_t i = arg_u64("spins", 1000000); i; --i) __asm__ volatile("pause");
    CHECK_EQ(inb(SERIAL_PORT + 5) & 0x01, 1, "LSR data ready after the stall");
    if (!failures) exit_vm((uint8_t)arg_u64("code", 0));
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

/* A virtio-mmio (version 2) block driver: the device from "virtio_mmio.device=<size>@<address>:<irq>"
 * on the command line, one queue of QUEUE_SIZE, one request at a time, polling the used ring (the
 * VMM completes a request before the notify's write returns). Register offsets from the virtio 1.x
 * spec (4.2.2), written here independently of the VMM's. */
#define VIRTIO_MAGIC 0x000
#define VIRTIO_VERSION 0x004
#define VIRTIO_DEVICE_ID 0x008
#define VIRTIO_DEVICE_FEATURES 0x010
#define VIRTIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_DRIVER_FEATURES 0x020
#define VIRTIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_QUEUE_SEL 0x030
#define VIRTIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_QUEUE_NUM 0x038
#define VIRTIO_QUEUE_READY 0x044
#define VIRTIO_QUEUE_NOTIFY 0x050
#define VIRTIO_INTERRUPT_STATUS 0x060
#define VIRTIO_INTERRUPT_ACK 0x064
#define VIRTIO_STATUS 0x070
#define VIRTIO_QUEUE_DESC 0x080
#define VIRTIO_QUEUE_DRIVER 0x090
#define VIRTIO_QUEUE_DEVICE 0x0a0
#define VIRTIO_CONFIG 0x100
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 0x40
#define BLK_F_RO (1u << 5)
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define DESC_NEXT 1
#define DESC_WRITE 2
#define QUEUE_SIZE 8
#define NEEDS_RESET (-1) /* blk_request's answer when the device stopped */

struct descriptor {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
static struct {
    struct descriptor table[QUEUE_SIZE];
    struct {
        uint16_t flags, idx, ring[QUEUE_SIZE], used_event;
    } __attribute__((aligned(4096))) avail;
    struct {
        uint16_t flags, idx;
        struct {
            uint32_t id, len;
        } ring[QUEUE_SIZE];
    } __attribute__((aligned(4096))) used;
} queue __attribute__((aligned(4096)));
static struct {
    uint32_t type, reserved;
    uint64_t sector;
} request_header;
static volatile uint8_t request_status;
static uint8_t disk_buffer[64 * 512] __attribute__((aligned(4096)));
static uint64_t virtio_base;
static uint16_t last_used;
static char hostile[32]; /* test=virtio_blk's hostile=, or empty */

static int strcmp_(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return (unsigned char)*a - (unsigned char)*b;
}


static uint32_t virtio_read(uint32_t offset) { return *(volatile uint32_t*)(uintptr_t)(virtio_base + offset); }
static void virtio_write(uint32_t offset, uint32_t value) {
    *(volatile uint32_t*)(uintptr_t)(virtio_base + offset) = value;
}
static void virtio_write64(uint32_t offset, uint64_t value) {
    virtio_write(offset, (uint32_t)value);
    virtio_write(offset + 4, (uint32_t)(value >> 32));
}

/* The address in a "virtio_mmio.device=4K@0xd0000000:5" value `v` of `n` bytes; 0 when it has none. */
static uint64_t parse_virtio_address(const char* v, size_t n) {
    size_t i = 0;
    while (i < n && v[i] != '@') ++i;
    if (i + 3 > n || v[i + 1] != '0' || v[i + 2] != 'x') return 0;
    uint64_t address = 0;
    for (i += 3; i < n && v[i] != ':'; ++i) {
        char c = v[i];
        address = address * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return address;
}
uint64_t virtio_device_address(void) {
    size_t n;
    const char* v = arg("virtio_mmio.device", &n);
    return v ? parse_virtio_address(v, n) : 0;
}
uint64_t virtio_device_with_id(uint32_t id, uint32_t nth) {
    size_t n;
    for (const char* v = arg("virtio_mmio.device", &n); v; v = arg_from(v + n, "virtio_mmio.device", &n)) {
        uint64_t address = parse_virtio_address(v, n);
        if (address && *(volatile uint32_t*)(uintptr_t)(address + VIRTIO_DEVICE_ID) == id && nth-- == 0)
            return address;
    }
    return 0;
}

/* Resets the device (of type `device_id`) and sets it up again: features (VERSION_1, and of the
 * low half those in `accepted` that are offered), queue 0. Returns the device features' low half,
 * or fails the test. */
static uint32_t virtio_init(uint32_t device_id, uint32_t accepted) {
    CHECK_EQ(virtio_read(VIRTIO_MAGIC), 0x74726976, "virtio magic");
    CHECK_EQ(virtio_read(VIRTIO_VERSION), 2, "virtio-mmio version");
    CHECK_EQ(virtio_read(VIRTIO_DEVICE_ID), device_id, "virtio device id");
    virtio_write(VIRTIO_STATUS, 0);
    virtio_write(VIRTIO_STATUS, STATUS_ACKNOWLEDGE);
    virtio_write(VIRTIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    virtio_write(VIRTIO_DEVICE_FEATURES_SEL, 1);
    uint32_t high = virtio_read(VIRTIO_DEVICE_FEATURES);
    virtio_write(VIRTIO_DEVICE_FEATURES_SEL, 0);
    uint32_t low = virtio_read(VIRTIO_DEVICE_FEATURES);
    CHECK_EQ(high & 1, 1, "VIRTIO_F_VERSION_1 offered");
    CHECK_EQ(low & (1u << 28), 0, "VIRTIO_RING_F_INDIRECT_DESC not offered");
    virtio_write(VIRTIO_DRIVER_FEATURES_SEL, 0);
    virtio_write(VIRTIO_DRIVER_FEATURES, low & accepted);
    virtio_write(VIRTIO_DRIVER_FEATURES_SEL, 1);
    virtio_write(VIRTIO_DRIVER_FEATURES, 1);
    virtio_write(VIRTIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    CHECK_EQ(virtio_read(VIRTIO_STATUS) & STATUS_FEATURES_OK, STATUS_FEATURES_OK, "FEATURES_OK accepted");
    virtio_write(VIRTIO_QUEUE_SEL, 0);
    check(virtio_read(VIRTIO_QUEUE_NUM_MAX) >= QUEUE_SIZE, "queue size max", virtio_read(VIRTIO_QUEUE_NUM_MAX),
          QUEUE_SIZE);
    memset(&queue, 0, sizeof queue);
    last_used = 0;
    virtio_write(VIRTIO_QUEUE_NUM, QUEUE_SIZE);
    virtio_write64(VIRTIO_QUEUE_DESC, !strcmp_(hostile, "ring_outside_ram") ? 0xfff00000000ull
                                                                             : (uint64_t)(uintptr_t)queue.table);
    virtio_write64(VIRTIO_QUEUE_DRIVER, (uint64_t)(uintptr_t)&queue.avail);
    virtio_write64(VIRTIO_QUEUE_DEVICE, (uint64_t)(uintptr_t)&queue.used);
    virtio_write(VIRTIO_QUEUE_READY, 1);
    virtio_write(VIRTIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    return low;
}
static uint32_t virtio_blk_init(void) { return virtio_init(2, BLK_F_RO); }

/* Makes the chain at descriptor 0 available (moving the ring's index by `advance`), notifies, and
 * polls the used ring. Returns 0, or NEEDS_RESET when the device stopped or never answered. */
static int virtio_submit(uint16_t advance) {
    queue.avail.ring[queue.avail.idx % QUEUE_SIZE] = 0;
    __sync_synchronize(); /* the descriptors and the ring entry before the index */
    queue.avail.idx = (uint16_t)(queue.avail.idx + advance);
    __sync_synchronize();
    virtio_write(VIRTIO_QUEUE_NOTIFY, 0);
    for (int spins = 0; *(volatile uint16_t*)&queue.used.idx == last_used; ++spins)
        if ((virtio_read(VIRTIO_STATUS) & STATUS_NEEDS_RESET) || spins > 1000000) return NEEDS_RESET;
    ++last_used;
    return 0;
}

/* One request: the header, `len` bytes at `buffer` in one descriptor or, with `split`, two, and
 * the status byte. Returns the status, or NEEDS_RESET. `hostile` bends the chain first. */
static int blk_request(uint32_t type, uint64_t sector, void* buffer, uint32_t len, int split, const char* hostile) {
    uint16_t data_flags = (type == BLK_T_IN || type == BLK_T_GET_ID) ? DESC_WRITE : 0;
    request_header.type = type;
    request_header.sector = sector;
    request_status = 0xff;
    uint16_t n = 0;
    queue.table[n] = (struct descriptor){(uint64_t)(uintptr_t)&request_header, sizeof request_header, DESC_NEXT, 1};
    ++n;
    if (len) {
        uint32_t first = split ? len / 2 : len;
        queue.table[n] = (struct descriptor){(uint64_t)(uintptr_t)buffer, first, (uint16_t)(data_flags | DESC_NEXT),
                                             (uint16_t)(n + 1)};
        ++n;
        if (split) {
            queue.table[n] = (struct descriptor){(uint64_t)(uintptr_t)buffer + first, len - first,
                                                 (uint16_t)(data_flags | DESC_NEXT), (uint16_t)(n + 1)};
            ++n;
        }
    }
    queue.table[n] = (struct descriptor){(uint64_t)(uintptr_t)&request_status, 1, DESC_WRITE, 0};
    uint16_t advance = 1;
    if (hostile) {
        if (!strcmp_(hostile, "outside_ram")) queue.table[1].addr = 0xfff00000000ull;
        if (!strcmp_(hostile, "huge_length")) queue.table[1].len = 0xfffffe00u;
        if (!strcmp_(hostile, "bad_index")) queue.table[0].next = 200;
        if (!strcmp_(hostile, "loop")) queue.table[1].next = 0;
        if (!strcmp_(hostile, "index_jump")) advance = 100;
    }
    if (virtio_submit(advance) == NEEDS_RESET) return NEEDS_RESET;
    return request_status;
}

int blk_get_id(uint64_t device, char id[21]) {
    virtio_base = device;
    virtio_blk_init();
    /* The device writes at most 20 bytes, NUL-terminated only when shorter. */
    memset(disk_buffer, 0, 21);
    int status = blk_request(BLK_T_GET_ID, 0, disk_buffer, 20, 0, NULL);
    memcpy(id, disk_buffer, 21);
    return status;
}

int blk_read_first_sector(uint64_t device, uint8_t sector[512]) {
    virtio_base = device;
    virtio_blk_init();
    int status = blk_request(BLK_T_IN, 0, disk_buffer, 512, 0, NULL);
    memcpy(sector, disk_buffer, 512);
    return status;
}

uint32_t fnv1a_add(uint32_t hash, uint8_t byte) { return (hash ^ byte) * 16777619u; }
uint32_t fnv1a(const uint8_t* bytes, size_t n) {
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < n; ++i) hash = fnv1a_add(hash, bytes[i]);
    return hash;
}

/* test=virtio_blk capacity=N [ro=1] op=read|write|id [sector=S count=C sum=X] [expect=STATUS]
 * [hostile=KIND]: drives the disk the VMM put on the command line. op=read reads C sectors
 * (in two buffers) and checks their FNV-1a sum; op=write writes C sectors of a pattern (byte i
 * is i*7+3), flushes and reads them back; op=id prints the disk's id. expect= is the request's
 * status (1: IOERR). A hostile= chain either fails that request (outside_ram, huge_length: IOERR)
 * or stops the device (bad_index, loop, index_jump, ring_outside_ram: DEVICE_NEEDS_RESET), after
 * which a reset brings it back and a read works again. */
static void test_virtio_blk(void) {
    virtio_base = virtio_device_address();
    if (!virtio_base) {
        print("guest: FAIL: no virtio_mmio.device= on the command line\n");
        ++failures;
        return;
    }
    size_t n;
    const char* hostile_value = arg("hostile", &n);
    if (hostile_value && n < sizeof hostile) memcpy(hostile, hostile_value, n);
    uint32_t features = virtio_blk_init();
    CHECK_EQ((features & BLK_F_RO) != 0, arg_u64("ro", 0), "VIRTIO_BLK_F_RO");
    uint64_t capacity = virtio_read(VIRTIO_CONFIG) | (uint64_t)virtio_read(VIRTIO_CONFIG + 4) << 32;
    CHECK_EQ(capacity, arg_u64("capacity", 0), "capacity in sectors");
    uint64_t sector = arg_u64("sector", 0), count = arg_u64("count", 1);
    if (count * 512 > sizeof disk_buffer) count = sizeof disk_buffer / 512;
    uint32_t len = (uint32_t)count * 512;
    int status;
    if (hostile_value) {
        int reset_kind = !strcmp_(hostile, "bad_index") || !strcmp_(hostile, "loop") ||
                         !strcmp_(hostile, "index_jump") || !strcmp_(hostile, "ring_outside_ram");
        status = (virtio_read(VIRTIO_STATUS) & STATUS_NEEDS_RESET)
                     ? NEEDS_RESET
                     : blk_request(BLK_T_IN, sector, disk_buffer, len, 1, hostile);
        print("guest: hostile request status ");
        print(status == NEEDS_RESET ? "needs-reset" : status == 1 ? "ioerr" : "other");
        print("\n");
        check(status == (reset_kind ? NEEDS_RESET : 1), "the hostile request's outcome", (uint64_t)status, 0);
        /* The device works again: after a reset when it stopped, at once when it failed the request. */
        if (reset_kind) {
            memcpy(hostile, "none", 5);
            virtio_blk_init();
        }
        status = blk_request(BLK_T_IN, 0, disk_buffer, 512, 0, NULL);
        CHECK_EQ(status, 0, "a good read after the hostile request");
        return;
    }
    if (arg_is("op", "id")) {
        char id[21];
        CHECK_EQ(blk_get_id(virtio_base, id), 0, "GET_ID status");
        print("guest: disk id ");
        print(id);
        print("\n");
        return;
    }
    if (arg_is("op", "write")) {
        for (uint32_t i = 0; i < len; ++i) disk_buffer[i] = (uint8_t)(i * 7 + 3);
        status = blk_request(BLK_T_OUT, sector, disk_buffer, len, 1, NULL);
        print("guest: write status ");
        print_u64((uint64_t)status);
        print("\n");
        CHECK_EQ(status, arg_u64("expect", 0), "write status");
        if (status != 0) return;
        CHECK_EQ(blk_request(BLK_T_FLUSH, 0, NULL, 0, 0, NULL), 0, "flush status");
        uint32_t written = fnv1a(disk_buffer, len);
        memset(disk_buffer, 0, len);
        status = blk_request(BLK_T_IN, sector, disk_buffer, len, 1, NULL);
        CHECK_EQ(status, 0, "read back status");
        CHECK_EQ(fnv1a(disk_buffer, len), written, "read back checksum");
        return;
    }
    status = blk_request(BLK_T_IN, sector, disk_buffer, len, count > 1, NULL);
    print("guest: read status ");
    print_u64((uint64_t)status);
    print("\n");
    CHECK_EQ(status, arg_u64("expect", 0), "read status");
    /* The used ring was not silenced (no VIRTQ_AVAIL_F_NO_INTERRUPT): the device says it interrupted. */
    CHECK_EQ(virtio_read(VIRTIO_INTERRUPT_STATUS) & 1, 1, "interrupt status after a request");
    virtio_write(VIRTIO_INTERRUPT_ACK, 1);
    CHECK_EQ(virtio_read(VIRTIO_INTERRUPT_STATUS), 0, "interrupt status after the ack");
    if (status != 0) return;
    uint32_t sum = fnv1a(disk_buffer, len);
    print("guest: checksum ");
    print_u64(sum);
    print("\n");
    CHECK_EQ(sum, arg_u64("sum", 0), "checksum of the sectors read");
}

void hold(void) {
    for (;;) __asm__ volatile("cli; hlt");
}
/* After a test passed, with hold=1: says so and holds, for a benchmark to measure the VMM. */
static void hold_if_asked(void) {
    if (!arg_u64("hold", 0) || failures) return;
    print("guest: ok, holding\n");
    hold();
}

static int find_virtio(void) {
    virtio_base = virtio_device_address();
    if (virtio_base) return 1;
    print("guest: FAIL: no virtio_mmio.device= on the command line\n");
    ++failures;
    return 0;
}

/* A virtio-pmem FLUSH (virtio 1.2 section 5.19.6): a 4-byte request, a 4-byte response. Returns
 * the response's `ret`, or NEEDS_RESET. */
static struct {
    uint32_t type;
} pmem_request;
static volatile uint32_t pmem_response;
static int pmem_flush(void) {
    pmem_request.type = 0; /* VIRTIO_PMEM_REQ_TYPE_FLUSH */
    pmem_response = 0xffffffffu;
    queue.table[0] = (struct descriptor){(uint64_t)(uintptr_t)&pmem_request, sizeof pmem_request, DESC_NEXT, 1};
    queue.table[1] = (struct descriptor){(uint64_t)(uintptr_t)&pmem_response, sizeof pmem_response, DESC_WRITE, 0};
    if (virtio_submit(1) == NEEDS_RESET) return NEEDS_RESET;
    return (int)pmem_response;
}

/* Reads one byte of every page of [bytes, bytes + n): the whole region in the host's page tables,
 * at a cost a software KVM (some microseconds a guest instruction) can bear for 64 MiB, which a
 * byte-by-byte checksum is not. Returns the pages read. */
static uint64_t touch_pages(const uint8_t* bytes, uint64_t n) {
    uint64_t pages = 0;
    for (uint64_t i = 0; i < n; i += 4096, ++pages) (void)*(volatile const uint8_t*)(bytes + i);
    return pages;
}

/* test=pmem size=N sum=X [sum_offset=O sum_length=L] [op=read|write] [ro=1] [hold=1|reread=1]: the
 * virtio-pmem device (id 27) the VMM put on the command line. Its config space gives the region's
 * {start, size}; the guest reads the region as memory, every page of it, and checks the FNV-1a sum
 * of L bytes from O (default: all of it; keep it small where KVM is software). op=write writes the first page
 * (byte i is i*7+3) and flushes; with ro=1 the region must read back unchanged (the VMM dropped
 * the writes), else as written. The host checks the file afterwards. */
static void test_pmem(void) {
    if (!find_virtio()) return;
    CHECK_EQ(virtio_init(27, 0), 0, "virtio-pmem features (none offered)");
    uint64_t start = virtio_read(VIRTIO_CONFIG) | (uint64_t)virtio_read(VIRTIO_CONFIG + 4) << 32;
    uint64_t size = virtio_read(VIRTIO_CONFIG + 8) | (uint64_t)virtio_read(VIRTIO_CONFIG + 12) << 32;
    print("guest: pmem at ");
    print_u64(start);
    print(" +");
    print_u64(size);
    print("\n");
    CHECK_EQ(size, arg_u64("size", 0), "pmem size");
    CHECK_EQ(start % (128u << 20), 0, "pmem start on a 128 MiB boundary");
    check(start >= 0x100000000ull && start + size <= 0x200000000ull, "pmem in [4 GiB, 8 GiB)", start, 0);
    if (failures) return;
    volatile uint8_t* region = (volatile uint8_t*)(uintptr_t)start;
    uint64_t offset = arg_u64("sum_offset", 0), sum_length = arg_u64("sum_length", size);
    check(offset <= size && sum_length <= size - offset, "sum_offset and sum_length inside the region", offset, size);
    if (failures) return;
    uint32_t sum = fnv1a((const uint8_t*)region + offset, sum_length);
    uint64_t touched = touch_pages((const uint8_t*)region, size);
    print("guest: pmem pages touched ");
    print_u64(touched);
    print("\n");
    print("guest: pmem checksum ");
    print_u64(sum);
    print("\n");
    CHECK_EQ(sum, arg_u64("sum", 0), "checksum of the pmem region");
    if (arg_is("op", "write")) {
        uint8_t before[64];
        for (uint32_t i = 0; i < sizeof before; ++i) before[i] = region[i];
        for (uint32_t i = 0; i < 4096; ++i) region[i] = (uint8_t)(i * 7 + 3);
        *(volatile uint64_t*)(uintptr_t)(start + 4096) = 0x0123456789abcdefull; /* a wider write too */
        int ro = (int)arg_u64("ro", 0);
        uint32_t same = 0, written = 0;
        for (uint32_t i = 0; i < sizeof before; ++i) {
            same += region[i] == before[i];
            written += region[i] == (uint8_t)(i * 7 + 3);
        }
        CHECK_EQ(ro ? same : written, sizeof before, ro ? "read-only bytes unchanged" : "bytes written");
        CHECK_EQ(pmem_flush(), 0, "flush ret");
    }
    hold_if_asked();
    /* reread=1: reads every page again and again, for ever, for the host to take the file away. */
    if (arg_u64("reread", 0) && !failures) {
        print("guest: ok, rereading\n");
        for (;;) touch_pages((const uint8_t*)region, size);
    }
}

/* test=blk_slurp capacity=N sum=X [sum_length=L] [hold=1]: reads the whole disk, in 1 MiB
 * requests, into RAM at 16 MiB (guest memory must hold it), and checks the FNV-1a sum of its first
 * L bytes (default: all): a private copy of the disk in
 * the guest, for the benchmark to set against a shared pmem region. */
#define SLURP_BASE 0x1000000u
static void test_blk_slurp(void) {
    if (!find_virtio()) return;
    virtio_blk_init();
    uint64_t capacity = virtio_read(VIRTIO_CONFIG) | (uint64_t)virtio_read(VIRTIO_CONFIG + 4) << 32;
    CHECK_EQ(capacity, arg_u64("capacity", 0), "capacity in sectors");
    uint8_t* target = (uint8_t*)(uintptr_t)SLURP_BASE;
    for (uint64_t sector = 0; sector < capacity && !failures; sector += 2048) {
        uint64_t count = capacity - sector < 2048 ? capacity - sector : 2048;
        CHECK_EQ(blk_request(BLK_T_IN, sector, target + sector * 512, (uint32_t)count * 512, 0, NULL), 0,
                 "read status");
    }
    if (failures) return;
    uint64_t sum_length = arg_u64("sum_length", capacity * 512);
    if (sum_length > capacity * 512) sum_length = capacity * 512;
    CHECK_EQ(fnv1a(target, sum_length), arg_u64("sum", 0), "checksum of the disk's first sum_length bytes");
    hold_if_asked();
}

/* test=smp vcpus=N: the boot processor starts the others as firmware does, INIT then two
 * start-up IPIs through its local APIC (xAPIC, MMIO at 0xfee00000), to the real-mode trampoline of
 * entry.S copied to AP_TRAMPOLINE; each AP adds one to a counter there. The guest exits with the
 * number of processors that ran, itself included. */
#define LAPIC_BASE 0xfee00000u
#define LAPIC_SPURIOUS 0x0f0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_INIT 0x00000500u
#define ICR_STARTUP 0x00000600u
#define ICR_ASSERT 0x00004000u
#define ICR_ALL_BUT_SELF 0x000c0000u
#define ICR_PENDING 0x00001000u
#define AP_TRAMPOLINE 0x10000u /* below 1 MiB and page-aligned: start-up vector 0x10 */
extern const char ap_trampoline[], ap_trampoline_end[], ap_counter[];

static void lapic_write(uint32_t reg, uint32_t value) { *(volatile uint32_t*)(uintptr_t)(LAPIC_BASE + reg) = value; }
static uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t*)(uintptr_t)(LAPIC_BASE + reg); }
static void send_ipi(uint32_t command) {
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, ICR_ALL_BUT_SELF | command);
    for (int spins = 0; (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING) && spins < 1000000; ++spins)
        __asm__ volatile("pause");
}

static void test_smp(void) {
    uint32_t expected = (uint32_t)arg_u64("vcpus", 1) - 1;
    memcpy((void*)(uintptr_t)AP_TRAMPOLINE, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
    volatile uint32_t* counter = (volatile uint32_t*)(uintptr_t)(AP_TRAMPOLINE + (ap_counter - ap_trampoline));
    *counter = 0;
    lapic_write(LAPIC_SPURIOUS, 0x1ff); /* the APIC on, spurious vector 0xff */
    send_ipi(ICR_INIT | ICR_ASSERT);
    send_ipi(ICR_STARTUP | (AP_TRAMPOLINE >> 12));
    send_ipi(ICR_STARTUP | (AP_TRAMPOLINE >> 12)); /* the second, as the MP spec asks */
    for (uint64_t spins = 0; *counter < expected && spins < 100000000; ++spins) __asm__ volatile("pause");
    uint32_t cpus = *counter + 1;
    print("guest: processors running: ");
    print_u64(cpus);
    print("\n");
    exit_vm((uint8_t)cpus);
}

/* test=hang: halts with interrupts off, for ever; the VMM's time limit ends it. */
static void test_hang(void) {
    for (;;) __asm__ volatile("cli; hlt");
}

/* The PVH entry's (entry.S). */
void guest_main(const struct start_info* info) {
    if (info->magic == PVH_MAGIC && info->cmdline_paddr) cmdline = (const char*)(uintptr_t)info->cmdline_paddr;
    guest_run(info);
}

void guest_run(const struct start_info* info) {
    print("guest: cmdline: ");
    print_n(cmdline, length(cmdline));
    print("\n");
    if (arg_is("test", "exit")) exit_vm((uint8_t)arg_u64("code", 0));
    if (arg_is("test", "start_info")) test_start_info(info);
    else if (arg_is("test", "cpuid")) test_cpuid();
    else if (arg_is("test", "serial")) test_serial();
    else if (arg_is("test", "serial_input")) test_serial_input();
    else if (arg_is("test", "serial_iir")) test_serial_iir();
    else if (arg_is("test", "serial_stall")) test_serial_stall();
    else if (arg_is("test", "triple_fault")) test_triple_fault();
    else if (arg_is("test", "hang")) test_hang();
    else if (arg_is("test", "virtio_blk")) test_virtio_blk();
    else if (arg_is("test", "smp")) test_smp();
    else if (arg_is("test", "pmem")) test_pmem();
    else if (arg_is("test", "blk_slurp")) test_blk_slurp();
    else if (arg_is("test", "boot_params")) test_boot_params();
    else if (arg_is("test", "console")) test_console();
    else if (arg_is("test", "agent")) test_agent();
    else {
        print("guest: FAIL: no known test= on the command line\n");
        exit_vm(1);
    }
    print(failures ? "guest: failed\n" : "guest: ok\n");
    exit_vm(failures ? 1 : 0);
}
