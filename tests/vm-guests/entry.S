/* The test guest's PVH entry: the VMM starts it here in 32-bit protected mode, paging off, with
 * EBX pointing at the hvm_start_info. It switches to long mode over an identity map of the low
 * 8 GiB (2 MiB pages: the LAPIC at 0xfee00000 and the first virtio-pmem regions included) and
 * calls guest_main(start_info). */

/* The ELF note that makes this image bootable through PVH: Xen's XEN_ELFNOTE_PHYS32_ENTRY. */
    .section .note.pvh, "a", @note
    .balign 4
    .long 4                 /* name size: "Xen" and its NUL */
    .long 4                 /* descriptor size: a 32-bit physical address */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start

    .section .text.entry, "ax"
    .code32
    .globl pvh_start
pvh_start:
    cli
    movl %ebx, %esi         /* the start_info, guest_main's argument */
    lgdt gdt_pointer

    /* 4096 page directory entries of 2 MiB each, in eight page directories: the low 8 GiB, where
     * the VMM's virtio-pmem regions start (at 4 GiB). EDX:EAX is the 64-bit entry. */
    movl $page_directories, %edi
    movl $0x83, %eax        /* present, writable, a 2 MiB page */
    xorl %edx, %edx
    movl $4096, %ecx
1:  movl %eax, (%edi)
    movl %edx, 4(%edi)
    addl $0x200000, %eax
    adcl $0, %edx
    addl $8, %edi
    loop 1b
    /* The page directory pointer table holds the eight directories; the PML4 holds the table. */
    movl $pdpt, %edi
    movl $page_directories + 3, %eax
    movl $8, %ecx
2:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 2b
    movl $pdpt + 3, pml4

    movl %cr4, %eax
    orl $0x20, %eax         /* PAE */
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx  /* EFER */
    rdmsr
    orl $0x100, %eax        /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax   /* PG, PE */
    movl %eax, %cr0
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $stack_top, %rsp
    movl %esi, %edi
    call guest_main
3:  hlt
    jmp 3b

    .section .rodata
    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt

/* The application processors' start: test=smp copies these bytes below 1 MiB, and a start-up IPI
 * starts each AP there, in real mode with CS based at the page. Each counts itself in the word
 * at the end of the page's code, and halts for good. */
    .section .rodata
    .code16
    .globl ap_trampoline, ap_trampoline_end, ap_counter
ap_trampoline:
    cli
    lock incl %cs:(ap_counter - ap_trampoline)
1:  hlt
    jmp 1b
    .balign 4
ap_counter:
    .long 0
ap_trampoline_end:
    .code64

    .section .bss
    .balign 4096
pml4:
    .skip 4096
pdpt:
    .skip 4096
page_directories:
    .skip 8 * 4096
stack:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
