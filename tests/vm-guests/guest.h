/* What the test guest's C files share: guest.c has the console, the checks, the command line and
 * the tests every boot runs; boot_params.c the entry and the test of the bzImage boot; console.c
 * the virtio-console's driver and test; agent.c the guest agent's stand-in. */
#ifndef HUTCH_VM_GUEST_H
#define HUTCH_VM_GUEST_H

#include <stddef.h>
#include <stdint.h>

struct start_info;

/* The command line, as the boot protocol handed it. */
extern const char* cmdline;

void print(const char* s);
void print_u64(uint64_t v);
/* Counts a failure, and says what failed, unless `ok`. */
void check(int ok, const char* what, uint64_t got, uint64_t expected);
#define CHECK_EQ(got, expected, what) check((uint64_t)(got) == (uint64_t)(expected), what, got, expected)
/* The command line's "key=value": the value and its length, or NULL. */
const char* arg(const char* key, size_t* n);
int arg_is(const char* key, const char* value);
/* The number in "key=N" on the command line, or `fallback`. */
uint64_t arg_u64(const char* key, uint64_t fallback);
/* The failed checks so far. */
extern int failures;
uint32_t fnv1a(const uint8_t* bytes, size_t n);
/* One more byte into an FNV-1a hash (fnv1a(NULL, 0) starts one). */
uint32_t fnv1a_add(uint32_t hash, uint8_t byte);
/* The first "virtio_mmio.device=" on the command line: its registers' address, or 0. */
uint64_t virtio_device_address(void);
/* Device number `nth` (from 0), in the command line's order, of the virtio devices whose device id
 * is `id` (2 a disk, 3 a console): its registers' address, or 0. */
uint64_t virtio_device_with_id(uint32_t id, uint32_t nth);
/* A GET_ID of the virtio-blk disk at `device` (virtio_device_with_id(2, n)): the id the disk has,
 * NUL-terminated, in `id`. Returns the request's status (0: OK), or -1 when the device stopped. */
int blk_get_id(uint64_t device, char id[21]);
/* Reads sector 0 of the virtio-blk disk at `device` into `sector`. Returns as blk_get_id. */
int blk_read_first_sector(uint64_t device, uint8_t sector[512]);
void* memset(void* d, int c, size_t n);
size_t length(const char* s);
void* memcpy(void* d, const void* s, size_t n);
/* Halts with interrupts off, for ever: the VMM's time limit, or a kill of the VMM, ends it. */
__attribute__((noreturn)) void hold(void);

/* console.c's multiport virtio-console driver, polling. */
#define CONSOLE_RX_SIZE 4096 /* the most one console_read returns */
/* Starts the console device at `device`: waits until the host added, named and opened every port
 * it has, and opens them. Returns 0, or -1 when the device stopped. */
int console_start(uint64_t device);
/* The id of the port named `name` (a failed check when there is none). */
uint32_t console_port(const char* name);
/* Writes `len` bytes on port `id` and waits until the device took them. Returns 0, or -1. */
int console_write(uint32_t id, const void* bytes, uint32_t len);
/* Waits for bytes on port `id` and copies them into `bytes` (CONSOLE_RX_SIZE of room): returns
 * their count; 0 once the host closed the port and nothing is left; -1 when the device stopped. */
int console_read(uint32_t id, uint8_t* bytes);

/* A memory map's regions (PVH's memmap, the e820 table) added up as they are printed. */
struct memory_map_sum {
    uint64_t ram, ram_end, reserved, end;
    uint32_t regions;
};
void add_region(struct memory_map_sum* sum, const char* map, uint64_t addr, uint64_t size, uint32_t type);
/* The regions cover mem_mib= of the command line, with RAM to its end. */
void check_memory_map(const struct memory_map_sum* sum);
/* The initrd at `paddr`: initrd_size= bytes, page-aligned, inside RAM, and the bytes the host
 * summed (initrd_sum=). */
void check_initrd(uint64_t paddr, uint64_t size, uint64_t ram_end);

/* Runs the test the command line names, and exits. `info`: PVH's start_info, or NULL when the
 * guest was booted as a bzImage. */
__attribute__((noreturn)) void guest_run(const struct start_info* info);
/* test=boot_params (boot_params.c). */
void test_boot_params(void);
/* test=console (console.c). */
void test_console(void);
/* test=agent (agent.c). */
void test_agent(void);

#endif
