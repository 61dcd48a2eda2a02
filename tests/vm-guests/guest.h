/* What guest.c shares with the tests of the test guest that live in files of their own. */
#pragma once

#include <stddef.h>
#include <stdint.h>

void* memset(void* d, int c, size_t n);
void guest_print(const char* s);
void guest_print_u64(uint64_t v);
/* Counts a failure, with a line "guest: FAIL: what: got G, expected E", unless `ok`. */
void guest_check(int ok, const char* what, uint64_t got, uint64_t expected);
int guest_failures(void);
/* The command line's "key=value": the value and its length, or NULL. */
const char* guest_arg(const char* key, size_t* n);
int guest_arg_is(const char* key, const char* value);
uint64_t guest_arg_u64(const char* key, uint64_t fallback);
uint32_t guest_fnv1a(const uint8_t* bytes, size_t n);
/* The first "virtio_mmio.device=" on the command line: its registers' address, or 0. */
uint64_t guest_virtio_address(void);

/* console.c: test=console. */
void test_console(void);
