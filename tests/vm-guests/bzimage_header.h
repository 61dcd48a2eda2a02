/* The setup header the test guest's bzImage carries (bzimage.S), which test=boot_params expects
 * to find copied into the zero page (boot_params.c). For the assembler and for C. */
#ifndef HUTCH_VM_GUEST_BZIMAGE_HEADER_H
#define HUTCH_VM_GUEST_BZIMAGE_HEADER_H

#define BZ_SETUP_SECTS 1         /* the boot sector and one sector of (no) setup code */
#define BZ_VERSION 0x020f        /* boot protocol 2.15 */
#define BZ_LOADFLAGS 0x01        /* LOADED_HIGH: the kernel at 1 MiB and above */
#define BZ_XLOADFLAGS 0x01       /* XLF_KERNEL_64: a 64-bit entry at +0x200 */
#define BZ_PREF_ADDRESS 0x100000 /* not relocatable: linked at 1 MiB */
#define BZ_KERNEL_ALIGNMENT 0x200000
#define BZ_CMDLINE_SIZE 2047
#define BZ_INITRD_ADDR_MAX 0x7fffffff

#endif
