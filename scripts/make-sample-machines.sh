#!/usr/bin/env bash
# Builds ferry's two sample machines from the text fixtures in tests/machines/ into OUTDIR:
#   OUTDIR/xp     a Windows XP SP3 source volume (OLDPC01, domain OLDCORP)
#   OUTDIR/win10  a Windows 10 target volume (NEWPC01, domain NEWCORP)
# Each is a folder laid out as a mounted system volume: `ferry machine --machine OUTDIR/xp`.
#
# Hives are made with the built ferry (`ferry reg import --create HIVE FILE.reg`), files
# from each machine's files.txt with python3; contents are generated deterministically, so
# two builds give the same bytes. tests/machines/README.md describes the fixture formats;
# docs/machine.md what the machines contain.
#
# Usage: scripts/make-sample-machines.sh [--force] OUTDIR
#   --force   rebuild OUTDIR/xp and OUTDIR/win10 when OUTDIR is not empty (only those two
#             folders are removed)
# Environment: FERRY_BIN (default: build/ferry beside this script's project).
# Exit codes: 0 built; 2 wrong command line or OUTDIR not empty; 1 anything else failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
fixtures="$src/tests/machines"

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

force=0
out=
while [ $# -gt 0 ]; do
    case "$1" in
    --force) force=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    -*)
        echo "make-sample-machines: unknown option $1" >&2
        usage >&2
        exit 2
        ;;
    *)
        if [ -n "$out" ]; then
            echo "make-sample-machines: one OUTDIR only" >&2
            exit 2
        fi
        out=$1
        ;;
    esac
    shift
done
if [ -z "$out" ]; then
    echo "make-sample-machines: which OUTDIR?" >&2
    usage >&2
    exit 2
fi

ferry=${FERRY_BIN:-$src/build/ferry}
if [ ! -x "$ferry" ]; then
    echo "make-sample-machines: no ferry binary at $ferry (build it, or set FERRY_BIN)" >&2
    exit 1
fi
command -v python3 > /dev/null || {
    echo "make-sample-machines: python3 is needed" >&2
    exit 1
}

if [ -d "$out" ] && [ -n "$(ls -A "$out")" ]; then
    if [ "$force" != 1 ]; then
        echo "make-sample-machines: $out is not empty; give --force to rebuild the sample" \
            "machines in it" >&2
        exit 2
    fi
    rm -rf -- "$out/xp" "$out/win10"
fi
mkdir -p "$out"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-samples-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The helper: `reg SRC DST` writes a standard .reg file from a fixture (expand:"..." ->
# hex(2), multi:"...","..." -> hex(7)); `files ROOT MANIFEST` makes the files, links and
# times of a manifest.
cat > "$tmp/helper.py" << 'PY'
import hashlib, os, re, sys, datetime

def die(msg):
    sys.stderr.write("make-sample-machines: " + msg + "\n")
    sys.exit(1)

def reg_string(s, where):
    """The body of a .reg "..." string: \\\\ and \\" are escapes."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s) and s[i + 1] in '\\"':
            out.append(s[i + 1]); i += 2
        else:
            out.append(c); i += 1
    return ''.join(out)

def hexbytes(b):
    return ','.join('%02x' % x for x in b)

def utf16z(s):
    return s.encode('utf-16-le') + b'\0\0'

STR = r'"((?:[^"\\]|\\.)*)"'

def reg(src, dst):
    lines = []
    for n, line in enumerate(open(src, encoding='utf-8'), 1):
        line = line.rstrip('\r\n')
        m = re.match(r'^(\s*(?:"(?:[^"\\]|\\.)*"|@)=)(expand|multi):(.*)$', line)
        if m:
            head, kind, rest = m.groups()
            items = re.findall(STR, rest)
            if not items or re.sub(r'\s*' + STR + r'\s*,?', '', rest).strip():
                die('%s:%d: bad %s: value' % (src, n, kind))
            if kind == 'expand':
                if len(items) != 1:
                    die('%s:%d: expand: takes one string' % (src, n))
                data, t = utf16z(reg_string(items[0], src)), 2
            else:
                data = b''.join(utf16z(reg_string(x, src)) for x in items) + b'\0\0'
                t = 7
            line = '%shex(%d):%s' % (head, t, hexbytes(data))
        lines.append(line)
    with open(dst, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')

MAGIC = {
    '.docx': b'PK\x03\x04', '.xlsx': b'PK\x03\x04', '.pptx': b'PK\x03\x04', '.zip': b'PK\x03\x04',
    '.doc': bytes.fromhex('d0cf11e0a1b11ae1'), '.xls': bytes.fromhex('d0cf11e0a1b11ae1'),
    '.dot': bytes.fromhex('d0cf11e0a1b11ae1'), '.mdb': b'\x00\x01\x00\x00Standard Jet DB\x00',
    '.db': bytes.fromhex('d0cf11e0a1b11ae1'), '.pdf': b'%PDF-1.4\n', '.mp3': b'ID3\x03\x00',
    '.wav': b'RIFF\x00\x00\x00\x00WAVEfmt ', '.avi': b'RIFF\x00\x00\x00\x00AVI LIST',
    '.bmp': b'BM', '.jpg': b'\xff\xd8\xff\xe0', '.exe': b'MZ\x90\x00', '.lnk': b'L\x00\x00\x00',
    '.dat': b'Client UrlCache MMF Ver 5.2\x00',
}

def size_of(s):
    m = re.fullmatch(r'(\d+)([KM]?)', s)
    if not m:
        die('bad size %r' % s)
    return int(m.group(1)) * {'': 1, 'K': 1024, 'M': 1024 * 1024}[m.group(2)]

def text_of(s):
    # \r \n \t \\ are escapes; any other backslash stays (Windows paths in texts)
    return re.sub(r'\\([rnt\\])', lambda m: {'r': '\r', 'n': '\n', 't': '\t', '\\': '\\'}[m.group(1)], s)

def when(s):
    if s == '-':
        return None
    try:
        d = datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ')
    except ValueError:
        die('bad time %r (want YYYY-MM-DDTHH:MM:SSZ or -)' % s)
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()

def files(root, manifest):
    def host(p):
        parts = [x for x in p.replace('/', '\\').split('\\') if x]
        if not parts or any(x in ('.', '..') for x in parts):
            die('%s: bad path %r' % (manifest, p))
        return os.path.join(root, *parts)
    times, dirs = [], []
    for n, line in enumerate(open(manifest, encoding='utf-8'), 1):
        line = line.rstrip('\r\n')
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        f = [x.strip() for x in line.split('|')]
        kind, where = f[0], '%s:%d' % (manifest, n)
        want = {'dir': 3, 'file': 4, 'link': 3, 'time': 3}.get(kind)
        if want is None or len(f) != want:
            die('%s: expected dir|PATH|MTIME, file|PATH|CONTENT|MTIME, link|PATH|TARGET or '
                'time|PATH|MTIME' % where)
        p = host(f[1])
        if kind == 'dir':
            os.makedirs(p, exist_ok=True)
            if when(f[2]) is not None:
                dirs.append((p, when(f[2])))
        elif kind == 'link':
            os.makedirs(os.path.dirname(p), exist_ok=True)
            os.symlink(f[2], p)
        elif kind == 'time':
            if not os.path.exists(p):
                die('%s: %s does not exist' % (where, f[1]))
            times.append((p, when(f[2])))
        else:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            c = f[2]
            magic = MAGIC.get(os.path.splitext(p)[1].lower(), b'')
            with open(p, 'wb') as o:
                if c.startswith('text:'):
                    o.write(text_of(c[5:]).encode('utf-8'))
                elif c.startswith('bytes:'):
                    n_ = size_of(c[6:])
                    # deterministic: the same path always gets the same bytes
                    body = hashlib.shake_256(f[1].encode('utf-8')).digest(n_)
                    o.write((magic + body)[:n_])
                elif c.startswith('sparse:'):
                    o.write(magic)
                    o.truncate(size_of(c[7:]))
                elif c == 'empty':
                    pass
                else:
                    die('%s: unknown content %r' % (where, c))
            if when(f[3]) is not None:
                times.append((p, when(f[3])))
    for p, t in times:
        os.utime(p, (t, t), follow_symlinks=False)
    # folders last, deepest first: making files inside changes their times
    for p, t in sorted(dirs, key=lambda x: -x[0].count(os.sep)):
        os.utime(p, (t, t))

if sys.argv[1] == 'reg':
    reg(sys.argv[2], sys.argv[3])
elif sys.argv[1] == 'files':
    files(sys.argv[2], sys.argv[3])
PY

build_machine() { # NAME
    local name=$1 dir="$fixtures/$1" vol="$out/$1"
    mkdir -p "$vol"
    local line path regf hive n=0
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in '#'* | '') continue ;; esac
        path=$(printf '%s' "${line%%|*}" | sed 's/[[:space:]]*$//; s/^[[:space:]]*//')
        regf=$(printf '%s' "${line#*|}" | sed 's/[[:space:]]*$//; s/^[[:space:]]*//')
        hive="$vol/${path//\\//}"
        mkdir -p "$(dirname "$hive")"
        n=$((n + 1))
        python3 "$tmp/helper.py" reg "$dir/$regf" "$tmp/$name-$n.reg"
        if ! "$ferry" reg import --create "$hive" "$tmp/$name-$n.reg" > "$tmp/log" 2>&1; then
            cat "$tmp/log" >&2
            echo "make-sample-machines: $name: could not make $path from $regf" >&2
            exit 1
        fi
    done < "$dir/hives.txt"
    python3 "$tmp/helper.py" files "$vol" "$dir/files.txt"
    echo "$vol"
}

build_machine xp
build_machine win10
