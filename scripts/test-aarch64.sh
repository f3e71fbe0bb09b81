#!/usr/bin/env bash
# Builds the aarch64 (arm64) collection with scripts/build-collection.sh --target aarch64 and
# checks the binary it ships:
#   - its ELF header: 64-bit, little endian, machine AArch64, and statically linked (no program
#     interpreter, no shared library needed);
#   - under qemu-user (`qemu-aarch64`, Debian package qemu-user), when installed: `--version`,
#     `audit --from-dir examples/cluster-dump -o json` and the bootimage_info module run the way
#     Ansible runs it (`bootimage_info <args-file>`, check mode and diff) print exactly what this
#     machine's native build prints. Without qemu it says SKIP for these and still passes.
#
#   scripts/test-aarch64.sh [--binary PATH]   (--binary: check this binary, build nothing)
#
# Needs what scripts/build-collection.sh --target aarch64 needs on an x86_64 machine: rustup's
# aarch64-unknown-linux-musl target (added when missing) and a C compiler for aarch64 (Debian/Ubuntu
# package gcc-aarch64-linux-gnu). The release build takes ~10 min on 2 cores the first time.
# Env: OCP_BOOTIMAGE_NATIVE_BIN  the native binary to compare with (default: the debug build,
#                                cargo build -p ocp-bootimage)
#      OCP_BOOTIMAGE_QEMU        the qemu-aarch64 to use (default: from PATH; `none`: do not run it)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

say() { echo "test-aarch64: $*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

bin=""
case "${1:-}" in
--binary) bin="${2:?--binary needs a path}" ;;
"") ;;
*) fail "unknown argument: $1 (usage: scripts/test-aarch64.sh [--binary PATH])" ;;
esac

t0=$SECONDS
t_build=0
if [ -z "$bin" ]; then
    galaxy=()
    if venvs="$(./scripts/setup-ansible.sh --print-venvs 2>/dev/null)" && [ -n "$venvs" ]; then
        g="${venvs%%:*}/bin/ansible-galaxy"
        [ -x "$g" ] && galaxy=(--ansible-galaxy "$g")
    fi
    out="$target_dir/collection-aarch64"
    ./scripts/build-collection.sh --target aarch64 --out "$out" "${galaxy[@]}" >/dev/null
    t_build=$((SECONDS - t0))
    coll="$out/ansible_collections/ocp/bootimage"
    # The binary is libexec/ocp-bootimage; every plugins/modules/<module> links to it.
    bin="$coll/libexec/ocp-bootimage"
    [ -f "$bin" ] || fail "no module binary at $bin"
    [ "$(readlink -f "$coll/plugins/modules/bootimage_info")" = "$(readlink -f "$bin")" ] ||
        fail "plugins/modules/bootimage_info does not lead to $bin"
    say "built in ${t_build}s: $bin ($(stat -c %s "$bin") bytes)"
    if [ ${#galaxy[@]} -gt 0 ]; then
        tarball="$(ls "$out"/ocp-bootimage-*.tar.gz)"
        say "collection tarball: $tarball ($(stat -c %s "$tarball") bytes)"
    fi
fi
[ -f "$bin" ] || fail "$bin does not exist"

# ---------------------------------------------------------------- the ELF header
hdr="$(head -c 64 "$bin" | od -An -tx1 -v | tr -d ' \n')"
byte() { echo "${hdr:$((2 * $1)):2}"; }
[ "${hdr:0:8}" = 7f454c46 ] || fail "$bin is not an ELF file"
[ "$(byte 4)" = 02 ] || fail "not a 64-bit ELF (EI_CLASS $(byte 4))"
[ "$(byte 5)" = 01 ] || fail "not little endian (EI_DATA $(byte 5))"
machine="$(byte 19)$(byte 18)"
[ "$machine" = 00b7 ] || fail "ELF machine is 0x$machine, not AArch64 (0x00b7)"
say "ELF: 64-bit, little endian, machine AArch64 (e_machine 0x00b7): ok"
# The program headers: no PT_INTERP (3), i.e. no dynamic loader — statically linked.
le() { # little-endian number of $2 bytes at offset $1 of the file
    head -c $(($1 + $2)) "$bin" | tail -c "$2" | od -An -tx1 -v | tr -d ' \n' |
        sed 's/\(..\)/\1\n/g' | tac | tr -d '\n' | { read -r h; echo $((16#${h:-0})); }
}
phoff="$(le 32 8)"
phentsize="$(le 54 2)"
phnum="$(le 56 2)"
((phnum > 0 && phentsize >= 56)) || fail "no program headers (phnum $phnum, phentsize $phentsize)"
types=()
for ((i = 0; i < phnum; i++)); do
    types+=("$(le $((phoff + i * phentsize)) 4)")
done
for t in "${types[@]}"; do
    [ "$t" != 3 ] || fail "the binary has a program interpreter (PT_INTERP): it is dynamically linked"
done
say "ELF: $phnum program headers, none PT_INTERP: statically linked: ok"
if command -v readelf >/dev/null 2>&1; then
    ! readelf -d "$bin" 2>/dev/null | grep -q NEEDED || fail "readelf lists shared libraries (NEEDED)"
    say "readelf: no NEEDED shared library: ok"
fi

# ---------------------------------------------------------------- under qemu
qemu="${OCP_BOOTIMAGE_QEMU:-$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)}"
[ "$qemu" != none ] || qemu=""
if [ -z "$qemu" ]; then
    say "SKIP: no qemu-aarch64 (Debian/Ubuntu package qemu-user): the aarch64 binary was checked (ELF) but not run"
    say "passed (ELF checks only), $((SECONDS - t0))s"
    exit 0
fi
native="${OCP_BOOTIMAGE_NATIVE_BIN:-}"
if [ -z "$native" ]; then
    say "the native binary to compare with: cargo build -p ocp-bootimage (debug)"
    cargo build --locked -p ocp-bootimage 2>&1 | tail -n 1
    native="$target_dir/debug/ocp-bootimage"
fi
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT
# The binary dispatches on its name: the CLI as ocp-bootimage, a module under a module's name.
mkdir -p "$work/native" "$work/aarch64"
ln -s "$native" "$work/native/ocp-bootimage"
ln -s "$bin" "$work/aarch64/ocp-bootimage"
native="$work/native/ocp-bootimage"

same() { # name, then the command after "--"; runs it natively and under qemu, compares stdout
    local name="$1" rc_n rc_q
    shift 2
    set +e
    "${@//@BIN@/$native}" >"$work/$name.native" 2>"$work/$name.native.err"
    rc_n=$?
    "$qemu" "${@//@BIN@/$bin_cli}" >"$work/$name.qemu" 2>"$work/$name.qemu.err"
    rc_q=$?
    set -e
    [ "$rc_n" = "$rc_q" ] || fail "$name: exit $rc_q under qemu, $rc_n natively ($(head -c 300 "$work/$name.qemu.err"))"
    cmp -s "$work/$name.native" "$work/$name.qemu" ||
        fail "$name: the output under qemu differs from the native one: $(diff "$work/$name.native" "$work/$name.qemu" | head -n 5)"
    say "qemu: $name: exit $rc_q, $(wc -c <"$work/$name.qemu") bytes, identical to native: ok"
}
bin_cli="$work/aarch64/ocp-bootimage"
same version -- @BIN@ --version
grep -q '^ocp-bootimage ' "$work/version.qemu" || fail "--version printed $(cat "$work/version.qemu")"
same audit -- @BIN@ audit --from-dir examples/cluster-dump -o json
grep -q '"verdict"' "$work/audit.qemu" || fail "the audit printed no verdict"
# As Ansible runs a module: the file named after the module, with an args file.
ln -s "$native" "$work/native/bootimage_info"
ln -s "$bin" "$work/aarch64/bootimage_info"
printf '{"dump_dir": "%s", "_ansible_check_mode": true, "_ansible_diff": true}\n' \
    "$root/examples/cluster-dump" >"$work/args.json"
set +e
"$work/native/bootimage_info" "$work/args.json" >"$work/module.native"
rc_n=$?
"$qemu" "$work/aarch64/bootimage_info" "$work/args.json" >"$work/module.qemu"
rc_q=$?
set -e
[ "$rc_n" = 0 ] && [ "$rc_q" = 0 ] || fail "bootimage_info module: exit $rc_q under qemu, $rc_n natively"
cmp -s "$work/module.native" "$work/module.qemu" ||
    fail "bootimage_info module: the output under qemu differs: $(diff "$work/module.native" "$work/module.qemu" | head -n 5)"
grep -q '"changed": *false' "$work/module.qemu" || fail "the module printed no \"changed\": false"
say "qemu: bootimage_info module (args file, check mode, diff): $(wc -c <"$work/module.qemu") bytes, identical to native: ok"
say "passed, $((SECONDS - t0))s (build ${t_build}s)"
