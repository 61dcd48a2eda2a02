/* What the test guest's C files share: guest.c has the console, the checks, the command line and
 * the tests every boot runs; boot_params.c the entry and the test of the bzImage boot; console.c
 * the virtio-console's test. */
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
/* The first "virtio_mmio.device=" on the command line: its registers' address, or 0. */
uint64_t virtio_device_address(void);
void* memset(void* d, int c, size_t n);

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

#endif
