/* The test guest booted as a bzImage: bzimage_main, which bzimage.S's 64-bit entry calls with the
 * zero page, and test=boot_params, which checks that zero page and the vCPU's state against
 * Documentation/arch/x86/boot.rst. The offsets are written here from boot.rst, independently of
 * the VMM's <asm/bootparam.h>, so that a mistake in one does not hide in both. */
#include <stddef.h>
#include <stdint.h>

#include "bzimage_header.h"
#include "guest.h"

#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_SETUP_SECTS 0x1f1
#define BP_SYSSIZE 0x1f4
#define BP_BOOT_FLAG 0x1fe
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define E820_ENTRY_SIZE 20 /* addr, size: 8 bytes each; type: 4; packed */
#define E820_MAX_ENTRIES 128
#define LOADER_UNDEFINED 0xff

/* What bzimage.S saw at its entry. */
uint16_t bzimage_entry_cs, bzimage_entry_ds, bzimage_entry_es, bzimage_entry_ss;
uint64_t bzimage_entry_rflags;
/* bzimage.ld's sizes: absolute symbols, weak because the PVH build has none (it never gets as far
 * as reading them: it has no zero page). */
extern const char bzimage_syssize[] __attribute__((weak)), bzimage_init_size[] __attribute__((weak));

static const uint8_t* zero_page;

static uint64_t field(uint32_t offset, uint32_t size) {
    uint64_t value = 0;
    for (uint32_t i = 0; i < size; ++i) value |= (uint64_t)zero_page[offset + i] << (8 * i);
    return value;
}
static uint64_t u8(uint32_t offset) { return field(offset, 1); }
static uint64_t u16(uint32_t offset) { return field(offset, 2); }
static uint64_t u32(uint32_t offset) { return field(offset, 4); }
static uint64_t u64(uint32_t offset) { return field(offset, 8); }

void bzimage_main(const uint8_t* params) {
    zero_page = params;
    uint64_t cmd_line = u32(BP_CMD_LINE_PTR) | u32(BP_EXT_CMD_LINE_PTR) << 32;
    if (cmd_line) cmdline = (const char*)(uintptr_t)cmd_line;
    guest_run(NULL);
}

/* The image's setup header, as bzimage.S wrote it, and the loader's fields over it. */
static void check_setup_header(void) {
    CHECK_EQ(u32(BP_HEADER), 0x53726448, "setup header magic HdrS");
    CHECK_EQ(u8(BP_SETUP_SECTS), BZ_SETUP_SECTS, "setup_sects");
    CHECK_EQ(u32(BP_SYSSIZE), (uintptr_t)bzimage_syssize, "syssize");
    CHECK_EQ(u16(BP_BOOT_FLAG), 0xaa55, "boot_flag");
    CHECK_EQ(u16(BP_VERSION), BZ_VERSION, "boot protocol version");
    CHECK_EQ(u8(BP_LOADFLAGS), BZ_LOADFLAGS, "loadflags");
    CHECK_EQ(u32(BP_INITRD_ADDR_MAX), BZ_INITRD_ADDR_MAX, "initrd_addr_max");
    CHECK_EQ(u16(BP_XLOADFLAGS), BZ_XLOADFLAGS, "xloadflags");
    CHECK_EQ(u32(BP_CMDLINE_SIZE), BZ_CMDLINE_SIZE, "cmdline_size");
    CHECK_EQ(u64(BP_PREF_ADDRESS), BZ_PREF_ADDRESS, "pref_address");
    CHECK_EQ(u32(BP_INIT_SIZE), (uintptr_t)bzimage_init_size, "init_size");
    CHECK_EQ(u8(BP_TYPE_OF_LOADER), LOADER_UNDEFINED, "type_of_loader");
    uint64_t length = 0;
    while (cmdline[length]) ++length;
    check(length <= BZ_CMDLINE_SIZE, "command line within cmdline_size", length, BZ_CMDLINE_SIZE);
}

/* boot.rst's 64-bit entry: long mode, paging on, __BOOT_CS 0x10, __BOOT_DS 0x18, interrupts off. */
static void check_cpu_state(void) {
    uint64_t cr0, cr4;
    uint32_t efer_low, efer_high;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("rdmsr" : "=a"(efer_low), "=d"(efer_high) : "c"(0xc0000080u));
    CHECK_EQ(bzimage_entry_cs, 0x10, "CS at entry (__BOOT_CS)");
    CHECK_EQ(bzimage_entry_ds, 0x18, "DS at entry (__BOOT_DS)");
    CHECK_EQ(bzimage_entry_es, 0x18, "ES at entry (__BOOT_DS)");
    CHECK_EQ(bzimage_entry_ss, 0x18, "SS at entry (__BOOT_DS)");
    CHECK_EQ(bzimage_entry_rflags & 0x200, 0, "RFLAGS.IF at entry");
    CHECK_EQ(cr0 >> 31, 1, "CR0.PG");
    CHECK_EQ((cr4 >> 5) & 1, 1, "CR4.PAE");
    CHECK_EQ((efer_low >> 10) & 1, 1, "EFER.LMA");
}

/* test=boot_params mem_mib=N [initrd_size=N initrd_sum=N]: the zero page describes what the VMM
 * was asked for (its e820 table the guest's RAM, its initrd fields the initrd byte for byte), and
 * carries the image's setup header; the vCPU entered as the protocol says. */
void test_boot_params(void) {
    if (!zero_page) {
        print("guest: FAIL: test=boot_params needs the bzImage boot\n");
        check(0, "a zero page", 0, 1);
        return;
    }
    print("guest: zero page at ");
    print_u64((uintptr_t)zero_page);
    print("\n");
    check_setup_header();
    check_cpu_state();

    uint64_t entries = u8(BP_E820_ENTRIES);
    check(entries > 0 && entries <= E820_MAX_ENTRIES, "e820 entries", entries, E820_MAX_ENTRIES);
    struct memory_map_sum sum = {0};
    for (uint32_t i = 0; i < entries && i < E820_MAX_ENTRIES; ++i) {
        uint32_t at = BP_E820_TABLE + i * E820_ENTRY_SIZE;
        add_region(&sum, "e820", u64(at), u64(at + 8), (uint32_t)u32(at + 16));
    }
    check_memory_map(&sum);

    uint64_t initrd = u32(BP_RAMDISK_IMAGE) | u32(BP_EXT_RAMDISK_IMAGE) << 32;
    uint64_t initrd_size = u32(BP_RAMDISK_SIZE) | u32(BP_EXT_RAMDISK_SIZE) << 32;
    if (arg_u64("initrd_size", 0)) {
        check_initrd(initrd, initrd_size, sum.ram_end);
    } else {
        CHECK_EQ(initrd, 0, "ramdisk_image without an initrd");
        CHECK_EQ(initrd_size, 0, "ramdisk_size without an initrd");
    }
}
