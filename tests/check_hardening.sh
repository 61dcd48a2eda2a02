#!/bin/bash
# Checks a binary for the hardening that CMakeLists.txt asks of the build, as checksec or
# Debian's hardening-check would, with binutils only:
#   full RELRO   a GNU_RELRO segment, and BIND_NOW where there is a dynamic section (a static
#                non-PIE binary has none: it applies every relocation before RELRO protects it)
#   canaries     hutch's own functions call __stack_chk_fail. Not the symbol's presence alone:
#                the static glibc and libstdc++ call it anyway, with or without the flag
#   fortify      hutch's own functions call glibc's checked functions (__snprintf_chk, ...)
#   PIE          an ET_DYN file
# Usage: check_hardening.sh BINARY --pie=yes|no|any --fortify=yes|no   (needs its symbols)
set -euo pipefail

bin=$1
shift
pie=any
fortify=no
for arg in "$@"; do
    case $arg in
        --pie=yes | --pie=no | --pie=any) pie=${arg#--pie=} ;;
        --fortify=yes | --fortify=no) fortify=${arg#--fortify=} ;;
        *) echo "check_hardening.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

failed=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failed=1; }

headers=$(readelf -hlW "$bin")
dynamic=$(readelf -dW "$bin")
type=$(awk '$1 == "Type:" {print $2}' <<<"$headers")

if grep -q '^ *GNU_RELRO ' <<<"$headers"; then ok "GNU_RELRO segment"; else fail "no GNU_RELRO segment (-z relro)"; fi
if grep -q '^ *DYNAMIC ' <<<"$headers"; then
    if grep -Eq '\(FLAGS\) .*BIND_NOW|\(FLAGS_1\) .*NOW' <<<"$dynamic"; then
        ok "BIND_NOW: full RELRO"
    else
        fail "no BIND_NOW: partial RELRO only (-z now)"
    fi
else
    ok "no dynamic section (static): no lazy binding to turn off"
fi

case $pie in
    yes) if [[ $type == DYN ]]; then ok "PIE (ET_DYN)"; else fail "not PIE: ELF type $type"; fi ;;
    no) if [[ $type == EXEC ]]; then ok "not PIE, as asked (ET_EXEC)"; else fail "ELF type $type, not EXEC"; fi ;;
    any) ok "ELF type $type" ;;
esac

# Calls made from functions in namespace hutch (mangled _ZN5hutch...; also _ZZN5hutch, the
# lambdas and statics inside them), by callee.
# Not `readelf | grep -q`: under pipefail, grep's early exit can kill readelf with SIGPIPE.
sections=$(readelf -SW "$bin")
if ! grep -q ' \.symtab ' <<<"$sections"; then
    fail "no symbol table (stripped): cannot tell hutch's functions apart"
    exit 1
fi
calls=$(objdump -d --no-show-raw-insn "$bin" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; next }
    fn ~ /^<_Z+N5hutch/ && /call/ && match($0, /<[^>+]*>$/) { print substr($0, RSTART + 1, RLENGTH - 2) }')
canaries=$(grep -c '^__stack_chk_fail\(@plt\)\?$' <<<"$calls" || true)
if ((canaries > 0)); then
    ok "stack protector: $canaries calls to __stack_chk_fail from hutch's functions"
else
    fail "no hutch function checks a stack canary (-fstack-protector-strong)"
fi
checked=$(grep -c '^__[a-z0-9_]*_chk\(@plt\)\?$' <<<"$calls" || true)
if [[ $fortify == yes ]]; then
    if ((checked > 0)); then
        ok "fortify: $checked calls to glibc's checked functions from hutch's functions"
    else
        fail "no call to a checked function (__*_chk) from hutch's functions (-D_FORTIFY_SOURCE=2)"
    fi
fi

if ((failed)); then
    echo "$bin: hardening missing" >&2
    exit 1
fi
echo "$bin: hardened"
