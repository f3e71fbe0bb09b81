#!/usr/bin/env bash
# Builds the Ansible collection `ocp.bootimage` and its `ansible-galaxy collection build` tarball.
#
#   scripts/build-collection.sh [--target ARCH] [--out DIR] [--binary PATH] [--ansible-galaxy PATH]
#                               [--version X] [--sanity] [--lint] [--release-changelog]
#
#   --target ARCH          the architecture of the execution environments the collection is for:
#                          x86_64 (amd64) or aarch64 (arm64) (default: this machine's). A
#                          collection holds the binary of one architecture (Ansible copies the
#                          module file itself to the host and runs it): build one per architecture.
#   --out DIR              where to put ansible_collections/ocp/bootimage and the tarball
#                          (default: <repo>/target/collection for x86_64,
#                          <repo>/target/collection-aarch64 for aarch64; execution-environment.yml
#                          takes each from there)
#   --binary PATH          put this ocp-bootimage binary into the collection instead of building
#                          the release binary (tests pass target/debug/ocp-bootimage); it must be
#                          one for --target
#   --ansible-galaxy PATH  the ansible-galaxy to build the tarball with (default: the one on PATH;
#                          without one the collection is laid out and the script stops there)
#   --version X            collection version (default: the version in Cargo.toml)
#   --sanity               then run `ansible-test sanity --venv` (the ansible-test next to
#                          ansible-galaxy) in the laid-out collection; fails when sanity fails
#   --lint                 then install the tarball and run `ansible-lint --profile production`
#                          (the one next to ansible-galaxy) on the installed collection and on the
#                          laid-out one (with galaxy.yml); fails on any violation
#   --release-changelog    also write the released changelog back into the repository: the
#                          laid-out copy's changelogs/changelog.yaml and CHANGELOG.rst into
#                          collection/, and delete the fragments it folded in (a release step)
#
# The changelog: collection/changelogs/ (antsibull-changelog; fragments in fragments/) is
# checked with `antsibull-changelog lint` and, in the laid-out copy, released as --version so
# its CHANGELOG.rst lists every fragment (the antsibull-changelog next to ansible-galaxy or on
# PATH; without one the committed collection/CHANGELOG.rst is shipped as it is, with a message).
# galaxy.yml's repository/homepage/issues/documentation URLs: $OCP_BOOTIMAGE_REPOSITORY or the
# git remote `origin` (left out, with a message, when neither is an http(s) URL).
#
# Without --binary it builds a static binary for <arch>-unknown-linux-musl (adding the target
# with rustup when missing). The `ring` crate compiles C, so it needs a C compiler for the target:
#   - for this machine's architecture: musl-gcc (Debian/Ubuntu package `musl-tools`); without one
#     it falls back to the glibc target with a clear message;
#   - for the other one (cross): <arch>-linux-musl-gcc when installed, else Debian/Ubuntu's
#     `gcc-aarch64-linux-gnu` / `gcc-x86-64-linux-gnu` with the headers it recommends
#     (`libc6-dev-arm64-cross` / `libc6-dev-amd64-cross`), used as C compiler and linker (the C
#     library is Rust's own self-contained musl). No fallback: it fails naming the package.
# Writing the collection runs the binary (`modules`, `collection --write`): a cross-built one runs
# under qemu-user (`qemu-aarch64` / `qemu-x86_64`, Debian package `qemu-user`; OCP_BOOTIMAGE_QEMU
# names another, `none` none) when installed, else a native debug build of this source writes them.
# Idempotent: the collection directory is laid out anew on every run. Works from any directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

arch=""
out=""
binary=""
galaxy=""
version=""
sanity=""
lint=""
release_changelog=""

usage() { sed -n "2,$(grep -n '^# Idempotent' "${BASH_SOURCE[0]}" | cut -d: -f1)p" "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() {
    echo "build-collection: error: $*" >&2
    exit 2
}
say() { echo "build-collection: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
    --target) arch="${2:?--target needs an architecture}"; shift 2 ;;
    --target=*) arch="${1#*=}"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --binary=*) binary="${1#*=}"; shift ;;
    --ansible-galaxy) galaxy="${2:?--ansible-galaxy needs a path}"; shift 2 ;;
    --ansible-galaxy=*) galaxy="${1#*=}"; shift ;;
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --version=*) version="${1#*=}"; shift ;;
    --sanity) sanity=1; shift ;;
    --lint) lint=1; shift ;;
    --release-changelog) release_changelog=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
    esac
done

abspath() { # absolute path of $1 (which need not exist yet), relative to the caller's cwd
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

host_arch="$(uname -m)"
case "$host_arch" in amd64) host_arch=x86_64 ;; arm64) host_arch=aarch64 ;; esac
case "${arch:-$host_arch}" in
x86_64 | amd64 | x86_64-unknown-linux-musl) arch=x86_64 ;;
aarch64 | arm64 | aarch64-unknown-linux-musl) arch=aarch64 ;;
*) die "--target ${arch:-$host_arch}: the collection is built for x86_64 (amd64) or aarch64 (arm64)" ;;
esac
musl_target="$arch-unknown-linux-musl"
default_out="$repo/target/collection"
[ "$arch" = x86_64 ] || default_out="$repo/target/collection-$arch"
out="$(abspath "${out:-$default_out}")"
if [ -z "$version" ]; then
    version="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$repo/Cargo.toml" | head -n 1)"
    [ -n "$version" ] || die "cannot read the version from $repo/Cargo.toml; give --version"
fi
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$ ]] ||
    die "version $version is not a semantic version (X.Y.Z), which ansible-galaxy requires"

# ansible-galaxy (and ansible-test next to it): checked before anything is built.
if [ -n "$galaxy" ]; then
    galaxy_path="$(command -v "$galaxy" 2>/dev/null || true)"
    [ -n "$galaxy_path" ] && [ -x "$galaxy_path" ] || die "--ansible-galaxy $galaxy is not an executable"
    galaxy="$(abspath "$galaxy_path")"
else
    galaxy="$(command -v ansible-galaxy 2>/dev/null || true)"
    [ -n "$galaxy" ] || [ -z "$sanity$lint" ] || die "--sanity and --lint need ansible-core: no ansible-galaxy on PATH; give --ansible-galaxy"
fi
if [ -n "$lint" ]; then
    [ -x "$(dirname "$galaxy")/ansible-lint" ] ||
        die "--lint: no ansible-lint next to $galaxy (scripts/setup-ansible.sh installs it into venv-latest)"
fi
changelog_tool="$( { [ -n "$galaxy" ] && [ -x "$(dirname "$galaxy")/antsibull-changelog" ] && echo "$(dirname "$galaxy")/antsibull-changelog"; } ||
    command -v antsibull-changelog 2>/dev/null || true)"
[ -n "$changelog_tool" ] || [ -z "$lint$release_changelog" ] ||
    die "--lint and --release-changelog: no antsibull-changelog next to $galaxy or on PATH (scripts/setup-ansible.sh installs it into venv-latest)"

# ---------------------------------------------------------------- the binary
elf_machine() { # the architecture of the ELF executable $1 (x86_64, aarch64 or "e_machine N")
    local h
    h="$(head -c 20 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')"
    case "$h" in
    7f454c46*) ;;
    *) echo "not an ELF file"; return 0 ;;
    esac
    case "${h:36:4}" in # e_machine, little endian, at offset 18
    3e00) echo x86_64 ;;
    b700) echo aarch64 ;;
    *) echo "e_machine 0x${h:38:2}${h:36:2}" ;;
    esac
}

static_report() { # prints whether $1 is statically linked; returns 0 when it is
    local f="$1" file_out interp=""
    file_out="$(file -L "$f" 2>/dev/null || true)"
    say "file: ${file_out#"$f": }"
    if command -v readelf >/dev/null 2>&1; then
        interp="$(readelf -l "$f" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
        say "readelf: $(elf_machine "$f"), program interpreter: ${interp:-none}"
    fi
    if [ -z "$interp" ] && { command -v readelf >/dev/null 2>&1 ||
        printf '%s' "$file_out" | grep -Eq 'statically linked|static-pie linked'; }; then
        say "the binary is STATIC: it runs in any $(elf_machine "$f") Linux execution environment"
        return 0
    fi
    say "the binary is DYNAMICALLY linked (glibc${interp:+, $interp}): it runs only where a compatible glibc is"
    return 1
}

c_compiler() { # the C compiler for $musl_target on this machine (ring compiles C and assembly)
    local c
    for c in "$arch-linux-musl-gcc" musl-gcc "$arch-linux-gnu-gcc"; do
        # musl-gcc targets this machine only; a glibc cross gcc serves a cross build (Rust
        # brings its own musl C library and start files for the musl targets).
        [ "$c" != musl-gcc ] || [ "$arch" = "$host_arch" ] || continue
        [ "$c" != "$arch-linux-gnu-gcc" ] || [ "$arch" != "$host_arch" ] || continue
        if command -v "$c" >/dev/null 2>&1; then
            echo "$c"
            return 0
        fi
    done
}

cross_package() { # the Debian/Ubuntu package with the cross compiler for $arch
    case "$arch" in
    aarch64) echo gcc-aarch64-linux-gnu ;;
    x86_64) echo gcc-x86-64-linux-gnu ;;
    esac
}

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac

if [ -n "$binary" ]; then
    binary="$(abspath "$binary")"
    [ -x "$binary" ] || die "--binary $binary is not an executable file"
    machine="$(elf_machine "$binary")"
    [ "$machine" = "$arch" ] ||
        die "--binary $binary is $machine, not $arch: give --target $machine (or the $arch binary)"
    say "using the binary $binary (not building)"
else
    musl_why=""
    if ! command -v rustup >/dev/null 2>&1; then
        rustc -vV 2>/dev/null | grep -q "$musl_target" ||
            musl_why="rustup is not installed and the toolchain is not the musl one"
    elif ! rustup target list --installed 2>/dev/null | grep -qx "$musl_target"; then
        say "adding the Rust target $musl_target (rustup target add)"
        rustup target add "$musl_target" >&2 ||
            musl_why="\`rustup target add $musl_target\` failed (no access to the Rust distribution server?)"
    fi
    cc=""
    if [ -z "$musl_why" ]; then
        cc="$(c_compiler)"
        if [ -z "$cc" ] && [ "$arch" = "$host_arch" ]; then
            musl_why="no musl C compiler ($arch-linux-musl-gcc or musl-gcc; the Debian/Ubuntu package musl-tools) for the ring crate"
        elif [ -z "$cc" ]; then
            musl_why="no C compiler for $arch ($arch-linux-musl-gcc, or $arch-linux-gnu-gcc: the Debian/Ubuntu package $(cross_package)) for the ring crate"
        fi
    fi
    built=""
    if [ -z "$musl_why" ]; then
        # cc-rs finds <arch>-linux-musl-gcc by itself; name the compiler (and for a cross build
        # the archiver and linker) only otherwise, and never over what the caller set (an
        # unchanged environment keeps cargo from rebuilding ring).
        triple_var="${musl_target//-/_}"
        linker_var="CARGO_TARGET_$(printf '%s' "$triple_var" | tr '[:lower:]' '[:upper:]')_LINKER"
        if [ "$cc" != "$arch-linux-musl-gcc" ] && [ -z "$(printenv "CC_$triple_var" || true)" ]; then
            export "CC_$triple_var=$cc"
        fi
        if [ "$arch" != "$host_arch" ]; then
            [ -n "$(printenv "AR_$triple_var" || true)" ] || ! command -v "${cc%gcc}ar" >/dev/null 2>&1 ||
                export "AR_$triple_var=${cc%gcc}ar"
            [ -n "$(printenv "$linker_var" || true)" ] || export "$linker_var=$cc"
        fi
        say "building the static release binary: cargo build --release --target $musl_target (C compiler: $cc)"
        if (cd "$repo" && cargo build --release --locked --target "$musl_target" >&2); then
            built="$target_dir/$musl_target/release/ocp-bootimage"
        else
            musl_why="the musl build failed (see above)"
        fi
    fi
    if [ -z "$built" ] && [ "$arch" != "$host_arch" ]; then
        die "cannot build the $arch binary: $musl_why."
    fi
    if [ -z "$built" ]; then
        say "musl target not available: $musl_why."
        (cd "$repo" && cargo build --release --locked >&2)
        built="$target_dir/release/ocp-bootimage"
        glibc="$(objdump -T "$built" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)"
        say "musl target not available: built a glibc-linked binary; it runs on glibc EEs with glibc >= ${glibc:-?} (this build machine's glibc: $(ldd --version 2>/dev/null | head -n 1 | sed 's/.* //')). RHEL 9 based AAP EEs have glibc 2.34, RHEL 8 based ones 2.28; musl/Alpine images cannot run it."
    fi
    binary="$built"
fi
static_report "$binary" || true

# The generated files come from running the binary: a binary of another architecture runs
# under qemu-user when installed (or binfmt_misc); else a native build of this version writes them.
generator=("$binary")
if [ "$arch" != "$host_arch" ]; then
    qemu="${OCP_BOOTIMAGE_QEMU:-$(command -v "qemu-$arch" || command -v "qemu-$arch-static" || true)}"
    [ "$qemu" != none ] || qemu=""
    if [ -n "$qemu" ]; then
        generator=("$qemu" "$binary")
        say "running the $arch binary under $qemu: $("${generator[@]}" --version)"
    elif "$binary" --version >/dev/null 2>&1; then
        say "running the $arch binary through binfmt_misc: $("$binary" --version)"
    else
        # The generated files do not depend on the architecture or the build profile.
        native="$target_dir/debug/ocp-bootimage"
        say "no qemu-$arch (Debian/Ubuntu package qemu-user): the collection files come from a native debug build ($native)"
        (cd "$repo" && cargo build --locked -p ocp-bootimage >&2)
        generator=("$native")
    fi
fi

# ---------------------------------------------------------------- the collection tree
# The modules, as the binary's registry lists them (the binary goes under the first's name).
listed="$("${generator[@]}" modules)" ||
    die "\`${generator[*]} modules\` failed: is this binary new enough to list its modules?"
modules=()
for m in $listed; do
    modules+=("$m")
done
[ "${#modules[@]}" -gt 0 ] || die "\`$binary modules\` listed no module"

coll="$out/ansible_collections/ocp/bootimage"
say "laying out $coll"
rm -rf "$coll"
mkdir -p "$coll/plugins/modules" "$coll/meta" "$coll/docs" "$coll/libexec"

repository="${OCP_BOOTIMAGE_REPOSITORY:-$(git -C "$repo" remote get-url origin 2>/dev/null || true)}"
case "$repository" in git@*:*) repository="${repository#git@}" && repository="https://${repository/://}" ;; esac
repository="${repository%.git}"
case "$repository" in
http://* | https://*) ;;
*)
    say "no repository URL (\$OCP_BOOTIMAGE_REPOSITORY, or a git remote \`origin\` at an http(s) or git@ URL): galaxy.yml gets no repository, homepage, issues and documentation, which Galaxy and ansible-lint's galaxy[no-repository] want before publishing"
    repository=""
    ;;
esac
{
    sed -e '/^#/d' -e "s|@VERSION@|$version|g" "$repo/collection/galaxy.yml.in" |
        if [ -n "$repository" ]; then sed -e "s|@REPOSITORY@|$repository|g"; else grep -v '@REPOSITORY@'; fi
} >"$coll/galaxy.yml"
cp "$repo/collection/README.md" "$repo/collection/LICENSE" "$repo/collection/CHANGELOG.rst" "$coll/"

# ansible-test sanity ignores (why: collection/tests/sanity/README.md), one file per
# ansible-core version the collection is tested with (scripts/setup-ansible.sh). Only the
# one ansible-lint's sanity rule permits.
mkdir -p "$coll/tests/sanity"
for v in 2.16 2.19; do
    for m in "${modules[@]}"; do
        echo "plugins/modules/$m.yml validate-modules:missing-gplv3-license"
    done | LC_ALL=C sort >"$coll/tests/sanity/ignore-$v.txt"
done

# Generated from the code: plugins/modules/<module>.yml and meta/runtime.yml.
"${generator[@]}" collection --write "$coll" >/dev/null ||
    die "\`${generator[*]} collection --write\` failed: is this binary new enough to generate the collection files?"
[ -f "$coll/meta/runtime.yml" ] || die "the binary wrote no meta/runtime.yml"
for m in "${modules[@]}"; do
    [ -f "$coll/plugins/modules/$m.yml" ] || die "the binary wrote no plugins/modules/$m.yml"
done
# The binary once, as libexec/ocp-bootimage; every module is a relative symlink to it
# (ansible-galaxy keeps symlinks inside the collection; Ansible copies the target file to the
# host as AnsiballZ_<module>, and the binary dispatches on that name). Outside plugins/modules,
# ansible-test's validate-modules, which reads module files as text, never sees the binary
# (collection/tests/sanity/README.md).
install -m 0755 "$binary" "$coll/libexec/ocp-bootimage"
for m in "${modules[@]}"; do
    ln -s ../../libexec/ocp-bootimage "$coll/plugins/modules/$m"
done

if [ -d "$repo/playbooks" ]; then
    cp -R "$repo/playbooks" "$coll/playbooks"
fi
if [ -d "$repo/docs/modules" ]; then
    cp -R "$repo/docs/modules" "$coll/docs/modules"
fi
if [ -f "$repo/docs/aap.md" ]; then
    cp "$repo/docs/aap.md" "$coll/docs/aap.md"
fi
say "modules: ${modules[*]}"

# The changelog (antsibull-changelog): fragments are linted, then released into the laid-out
# copy under this version, so its CHANGELOG.rst lists them (the repository is not changed).
cp -R "$repo/collection/changelogs" "$coll/changelogs"
if [ -n "$changelog_tool" ]; then
    (cd "$coll" && "$changelog_tool" lint >&2 && "$changelog_tool" lint-changelog-yaml changelogs/changelog.yaml >&2) ||
        die "antsibull-changelog lint failed on collection/changelogs (see above)"
    if find "$coll/changelogs/fragments" -type f -name '*.y*ml' | grep -q .; then
        # The modules for "New Modules", from the sidecars: antsibull-changelog finds modules with
        # `ansible-doc --metadata-dump`, which passes over symlinked modules, i.e. all of ours.
        "$(head -n 1 "$changelog_tool" | sed 's/^#! *//')" - "$coll" "$version" "${modules[@]}" <<'PY' ||
import sys, yaml
coll, version, names = sys.argv[1], sys.argv[2], sys.argv[3:]
modules = {}
for name in names:
    with open(f"{coll}/plugins/modules/{name}.yml", encoding="utf-8") as f:
        doc = yaml.safe_load(f)["DOCUMENTATION"]
    modules[name] = {"description": doc["short_description"], "name": name, "namespace": "",
                     "version_added": doc.get("version_added")}
with open(f"{coll}/changelogs/.plugin-cache.yaml", "w", encoding="utf-8") as f:
    yaml.safe_dump({"version": version, "plugins": {"module": modules}, "objects": {}}, f)
PY
            die "cannot write $coll/changelogs/.plugin-cache.yaml from the sidecars"
        (cd "$coll" && "$changelog_tool" release --version "$version" >&2) ||
            die "antsibull-changelog release --version $version failed in $coll"
        say "CHANGELOG.rst: the fragments of collection/changelogs/fragments released as $version"
        if [ -n "$release_changelog" ]; then
            cp "$coll/changelogs/changelog.yaml" "$repo/collection/changelogs/changelog.yaml"
            cp "$coll/CHANGELOG.rst" "$repo/collection/CHANGELOG.rst"
            find "$repo/collection/changelogs/fragments" -type f -name '*.y*ml' -print -delete | sed 's/^/build-collection: released and deleted /' >&2
            say "--release-changelog: wrote collection/changelogs/changelog.yaml and collection/CHANGELOG.rst (commit them)"
        fi
    fi
else
    say "antsibull-changelog is not installed: the collection gets the committed collection/CHANGELOG.rst, without the fragments not yet released"
fi
rm -f "$coll/changelogs/.plugin-cache.yaml"

# ---------------------------------------------------------------- the tarball
if [ -z "$galaxy" ]; then
    say "ansible-galaxy is not on PATH: laid out the collection at $coll but built NO tarball."
    say "Install ansible-core (e.g. python3 -m venv /tmp/av && /tmp/av/bin/pip install ansible-core)"
    say "and run again with --ansible-galaxy /tmp/av/bin/ansible-galaxy."
    exit 0
fi
tarball="$out/ocp-bootimage-$version.tar.gz"
"$galaxy" collection build --force --output-path "$out" "$coll" >&2
[ -f "$tarball" ] || die "ansible-galaxy did not create $tarball"
size="$(stat -c %s "$tarball")"
say "built $tarball ($size bytes)"

# ---------------------------------------------------------------- ansible-test sanity
get_pip_standin() { # writes a stand-in for get-pip.py to $1 (see below)
    cat >"$1" <<'PY'
"""Stand-in for the get-pip.py bootstrap script that ansible-test downloads from
ci-files.testing.ansible.com (written by scripts/build-collection.sh when that host cannot be
reached). ansible-test runs it with a new virtual environment's python and get-pip arguments,
e.g. `--disable-pip-version-check pip==23.1.2 setuptools==67.7.2 wheel==0.37.1` (2.16) or
`--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel` (2.19). Like get-pip.py it
bootstraps pip (here with the standard library's ensurepip) and installs the pinned packages
from the package index."""
import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}
env = dict(os.environ)  # ensurepip sets PIP_CONFIG_FILE=/dev/null in os.environ: keep pip.conf
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
ensurepip.bootstrap(upgrade=True)
pip = [sys.executable, "-m", "pip"]
rc = subprocess.call(pip + ["install"] + args, env=env)
if rc == 0 and "--no-setuptools" in sys.argv[1:] and not any(a.startswith("setuptools") for a in args):
    rc = subprocess.call(pip + ["uninstall", "--yes", "--disable-pip-version-check", "setuptools"], env=env)
sys.exit(rc)
PY
}

if [ -n "$sanity" ]; then
    ansible_test="$(dirname "$galaxy")/ansible-test"
    [ -x "$ansible_test" ] || die "--sanity: no ansible-test next to $galaxy"
    interpreter="$(head -n 1 "$ansible_test" | sed 's/^#! *//')"
    py="$($interpreter -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    log="$out/sanity.log"
    # ansible-test lists the files to test with git when the collection is inside a git work
    # tree (it walks up to find .git): under this repo's ignored target/ it would find none and
    # skip every test. So test a copy in a temporary directory outside any work tree.
    sanity_root="$(mktemp -d "${TMPDIR:-/tmp}/ocp-bootimage-sanity.XXXXXX")"
    trap 'rm -rf "$sanity_root"' EXIT
    if git -C "$sanity_root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        die "--sanity: $sanity_root is inside a git work tree; set TMPDIR to a directory outside one"
    fi
    sanity_coll="$sanity_root/ansible_collections/ocp/bootimage"
    mkdir -p "$(dirname "$sanity_coll")"
    cp -a "$coll" "$sanity_coll"
    sanity_cmd=("$ansible_test" sanity --venv --python "$py" --color no)
    say "running ${sanity_cmd[*]} in a copy of the collection, $sanity_coll (log: $log)"
    start=$SECONDS
    for attempt in 1 2; do
        rm -rf "$sanity_coll/tests/output"
        if (cd "$sanity_coll" && "${sanity_cmd[@]}") >"$log" 2>&1; then
            grep -q '^Running sanity test' "$log" ||
                die "ansible-test sanity ran no test: $(tail -n 3 "$log" | tr '\n' ' ')"
            say "ansible-test sanity PASSED ($(grep -c '^Running sanity test' "$log") tests, $((SECONDS - start)) s)"
            break
        fi
        # ansible-test bootstraps pip into its virtual environments with a get-pip.py it
        # downloads; where that host is unreachable, put a stand-in where it looks first.
        cache="$(sed -n 's/^The bootstrap script can be manually downloaded and saved to: //p' "$log" | head -n 1)"
        if [ "$attempt" = 1 ] && [ -n "$cache" ]; then
            say "ansible-test could not download get-pip.py: using a stand-in ($cache) that bootstraps pip with ensurepip"
            mkdir -p "$(dirname "$cache")"
            get_pip_standin "$cache"
            continue
        fi
        grep -E '^(ERROR|FATAL)|^[a-z-]+$' "$log" >&2 || tail -n 30 "$log" >&2
        die "ansible-test sanity FAILED after $((SECONDS - start)) s (full log: $log)"
    done
fi

# ---------------------------------------------------------------- ansible-lint
if [ -n "$lint" ]; then
    ansible_lint="$(dirname "$galaxy")/ansible-lint"
    lint_root="$out/lint"
    rm -rf "$lint_root"
    # Installed as users install it, so the playbooks' syntax checks find ocp.bootimage.
    "$galaxy" collection install --force -p "$lint_root/collections" "$tarball" >&2 ||
        die "--lint: ansible-galaxy collection install $tarball failed"
    installed="$lint_root/collections/ansible_collections/ocp/bootimage"
    [ -f "$installed/MANIFEST.json" ] || die "--lint: the collection did not install into $installed"
    lint_failed=""
    lint_args=(--profile production --offline --nocolor -f pep8)
    if [ -z "$repository" ]; then
        # Reported, as a warning: a clone without a public remote cannot name its repository.
        say "--lint: galaxy.yml names no repository (see above): galaxy[no-repository] is reported as a warning, not a failure"
        lint_args+=(--warn-list 'galaxy[no-repository]')
    fi
    # The installed collection (what users get) and the laid-out one (also galaxy.yml).
    for what in installed laid-out; do
        dir="$installed"
        [ "$what" = installed ] || dir="$coll"
        log="$lint_root/ansible-lint-$what.log"
        say "running ansible-lint --profile production in $dir (log: $log)"
        if (cd "$dir" && ANSIBLE_COLLECTIONS_PATH="$lint_root/collections" \
            "$ansible_lint" "${lint_args[@]}") >"$log" 2>&1; then
            say "ansible-lint PASSED in $dir: $(grep -E '^(Passed|Failed)' "$log" | tail -n 1)"
        else
            grep -vE '^\s*$' "$log" | tail -n 40 >&2
            lint_failed=1
        fi
    done
    [ -z "$lint_failed" ] || die "ansible-lint --profile production FAILED (logs in $lint_root)"
fi
echo "$tarball"
