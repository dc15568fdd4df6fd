#!/usr/bin/env bash
# t_install.sh — `cmake --install` into a temporary prefix puts the command, libvs2.so and
# libvs2.a, vs2.h and vs2.pc in place; a small C program then compiles, links and runs against the
# installed files with `pkg-config --cflags --libs vs2` (shared: it must load the installed
# libvs2.so) and `pkg-config --static --cflags --libs vs2` (static: no libvs2.so needed at all).
set -u
: "${VS2_BUILD_DIR:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}" "${VS2_CMAKE:?run through ctest}"
command -v pkg-config >/dev/null || { echo "pkg-config not found: skipped"; exit 77; }
CC=${VS2_CC:-cc}
W="$VS2_TEST_TMP/t_install"
P="$W/prefix"
rm -rf "$W"; mkdir -p "$W"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

"$VS2_CMAKE" --install "$VS2_BUILD_DIR" --prefix "$P" > "$W/install.log" 2>&1 || { fail "cmake --install: $(tail -5 "$W/install.log")"; exit 1; }
PC=$(dirname "$(find "$P" -name vs2.pc | head -1)")
[ -f "$PC/vs2.pc" ] || { fail "vs2.pc not installed"; exit 1; }
LIBDIR=$(dirname "$PC")
for f in "$P/bin/vs2" "$P/include/vs2.h" "$LIBDIR/libvs2.a" "$LIBDIR/libvs2.so"; do
    [ -e "$f" ] || fail "$f not installed"
done
grep -q '^Requires.private: .*libavformat' "$PC/vs2.pc" || fail "vs2.pc lacks the Requires.private modules"
"$P/bin/vs2" score --help | grep -q -- "--max-new-tokens" || fail "the installed vs2 does not run"

# The program: version and ABI, the options table and its parser, an error message. No model.
cat > "$W/prog.c" <<'C'
#include <vs2.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    if (vs2_abi_version() != VS2_ABI_VERSION) { printf("abi %d != %d\n", vs2_abi_version(), VS2_ABI_VERSION); return 1; }
    size_t n = 0;
    const vs2_option *o = vs2_options(&n);
    vs2_score_params sp = vs2_score_default_params();
    vs2_error err;
    if (!o || n < 10 || vs2_score_params_set(&sp, "max_new_tokens", "77", &err) != VS2_OK || sp.max_new_tokens != 77)
        return 2;
    if (vs2_score_params_set(&sp, "top-p", "2", &err) != VS2_ERR_INVALID_ARG || !strstr(err.message, "--top-p"))
        return 3;
    printf("vs2 %s, %zu options\n", vs2_version(), n);
    return 0;
}
C
export PKG_CONFIG_PATH="$PC"
# Link: cc prog.c FLAGS; 0 = linked. The static variant takes libvs2.a itself (-l:libvs2.a: both
# the archive and the shared library are installed, and -lvs2 would pick the shared one).
link() { # mode flags...
    local mode=$1; shift
    # shellcheck disable=SC2068
    $CC -std=c11 -o "$W/prog_$mode" "$W/prog.c" $@ ${VS2_TEST_LDFLAGS:-} > "$W/cc_$mode.log" 2>&1
}
flags=$(pkg-config --cflags --libs vs2 2>&1) || fail "pkg-config: $flags"
link shared $flags || fail "shared link with '$flags': $(tail -5 "$W/cc_shared.log")"
# --static follows Requires.private into FFmpeg's own Libs.private (x264, vpx, ... ~60 libraries).
# Where their -dev packages are not all installed (Debian's FFmpeg), that line cannot link; then
# the modules are linked as shared libraries: pkgconf's --static --pure gives the modules' Libs,
# and vs2.pc's libs_private variable the rest of Libs.private. Either way every flag but the
# archive's name comes from vs2.pc.
sflags=$(pkg-config --static --cflags --libs vs2 2>&1) || fail "pkg-config --static: $sflags"
sflags=${sflags//-lvs2 /-l:libvs2.a }
if ! link static $sflags; then
    grep -q "cannot find -l" "$W/cc_static.log" || fail "static link with '$sflags': $(tail -5 "$W/cc_static.log")"
    echo "pkg-config --static: FFmpeg's private libraries lack -dev packages here ($(grep -o "cannot find -l[^:]*" "$W/cc_static.log" | head -3 | sed 's/cannot find //' | tr '\n' ' ')...); linking the modules shared (--pure)"
    sflags="$(pkg-config --static --pure --cflags --libs vs2) $(pkg-config --variable=libs_private vs2)"
    sflags=${sflags//-lvs2 /-l:libvs2.a }
    link static $sflags || fail "static link with '$sflags': $(tail -5 "$W/cc_static.log")"
fi
for mode in shared static; do
    [ -x "$W/prog_$mode" ] || continue
    if [ $mode = shared ]; then
        out=$(LD_LIBRARY_PATH="$LIBDIR" "$W/prog_$mode") || fail "shared program: exit $? ($out)"
        LD_LIBRARY_PATH="$LIBDIR" ldd "$W/prog_$mode" | grep -q "$LIBDIR/libvs2.so" || fail "the shared program does not load the installed libvs2.so"
    else
        out=$("$W/prog_$mode") || fail "static program: exit $? ($out)"
        ldd "$W/prog_$mode" | grep -q libvs2 && fail "the static program still needs libvs2.so"
    fi
    grep -q "^vs2 .*, [0-9]* options$" <<<"$out" || fail "$mode program printed '$out'"
done

[ $fails -eq 0 ] && echo "t_install: installed to $P; shared and static programs built with pkg-config ran"
[ $fails -eq 0 ]
