/* The test guest as a bzImage, booted through Linux's 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst): the setup sectors with a real setup header, then the
 * protected-mode payload (bzimage.ld links it at 1 MiB), whose 64-bit entry at offset 0x200 runs
 * in long mode on the VMM's page tables with RSI at the zero page. The values are those of
 * bzimage_header.h; syssize and init_size come from bzimage.ld. */
#include "bzimage_header.h"

    .section .bzimage.setup, "a"
    .code16
setup_start:
    .org 0x1f1
    .byte BZ_SETUP_SECTS        /* 0x1f1 setup_sects */
    .word 0                     /* 0x1f2 root_flags */
    .long bzimage_syssize       /* 0x1f4 syssize: the payload in 16-byte paragraphs */
    .word 0                     /* 0x1f8 ram_size */
    .word 0xffff                /* 0x1fa vid_mode: normal */
    .word 0                     /* 0x1fc root_dev */
    .word 0xaa55                /* 0x1fe boot_flag */
    .org 0x200
    .byte 0xeb, header_end - 0f /* 0x200 jump: over the header, whose end it gives */
0:  .ascii "HdrS"               /* 0x202 header */
    .word BZ_VERSION            /* 0x206 version */
    .long 0                     /* 0x208 realmode_swtch */
    .word 0                     /* 0x20c start_sys_seg */
    .word 0                     /* 0x20e kernel_version */
    .byte 0                     /* 0x210 type_of_loader: the loader's */
    .byte BZ_LOADFLAGS          /* 0x211 loadflags */
    .word 0                     /* 0x212 setup_move_size */
    .long BZ_PREF_ADDRESS       /* 0x214 code32_start */
    .long 0, 0                  /* 0x218 ramdisk_image, ramdisk_size: the loader's */
    .long 0                     /* 0x220 bootsect_kludge */
    .word 0                     /* 0x224 heap_end_ptr */
    .byte 0, 0                  /* 0x226 ext_loader_ver, ext_loader_type */
    .long 0                     /* 0x228 cmd_line_ptr: the loader's */
    .long BZ_INITRD_ADDR_MAX    /* 0x22c initrd_addr_max */
    .long BZ_KERNEL_ALIGNMENT   /* 0x230 kernel_alignment */
    .byte 0                     /* 0x234 relocatable_kernel */
    .byte 21                    /* 0x235 min_alignment: 2 MiB */
    .word BZ_XLOADFLAGS         /* 0x236 xloadflags */
    .long BZ_CMDLINE_SIZE       /* 0x238 cmdline_size */
    .long 0                     /* 0x23c hardware_subarch: a PC */
    .quad 0                     /* 0x240 hardware_subarch_data */
    .long 0, 0                  /* 0x248 payload_offset, payload_length: no compressed payload */
    .quad 0                     /* 0x250 setup_data */
    .quad BZ_PREF_ADDRESS       /* 0x258 pref_address */
    .long bzimage_init_size     /* 0x260 init_size: the payload and its .bss */
    .long 0                     /* 0x264 handover_offset: no EFI */
    .long 0                     /* 0x268 kernel_info_offset */
header_end:
    .org (BZ_SETUP_SECTS + 1) * 512

    .section .bzimage.entry, "ax"
    .code32
startup_32:                     /* payload offset 0: the 32-bit entry, which this guest lacks */
    ud2
    .org 0x200
    .code64
startup_64:
    /* A kernel clears its own .bss: nothing says the loader did. RSI survives rep stosq, which
     * takes 8 bytes a step: a software KVM (kvm_pvm) emulates each step, 140 ms for rep stosb. */
    movq $bzimage_bss, %rdi
    movq $bzimage_end, %rcx
    subq %rdi, %rcx
    shrq $3, %rcx
    xorl %eax, %eax
    rep stosq
    movq $bzimage_stack_top, %rsp   /* the VMM's RSP means nothing: none before this */
    /* The state the VMM entered with, for test=boot_params (boot_params.c): neither the
     * segment registers nor RFLAGS.IF changed since. */
    movw %cs, bzimage_entry_cs(%rip)
    movw %ds, bzimage_entry_ds(%rip)
    movw %es, bzimage_entry_es(%rip)
    movw %ss, bzimage_entry_ss(%rip)
    pushfq
    popq bzimage_entry_rflags(%rip)
    movq %rsi, %rdi
    call bzimage_main
1:  hlt
    jmp 1b

    .section .bss
    .balign 16
    .skip 16384
bzimage_stack_top:

    .section .note.GNU-stack, "", @progbits
