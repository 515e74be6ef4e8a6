#!/usr/bin/env python3
"""The data-driven application-definition cases (tests/appdefs/<appdef id>/*.case), run by
tests/scripts/test_appdefs.sh: for each case, copy the sample machines, give the source
user the application's settings, migrate with a one-line SE.ptt, and check the target.

The case format is described in tests/appdefs/README.md. In short, a case file holds
setup lines (source, hive, reg, files, select, target-version, ...) and expectation lines
(file, no-file, reg, no-reg, key, no-key, log), one directive a line, `#` comments.

Usage: appdefs_cases.py --machines DIR --work DIR [--only SUBSTRING]...
Environment: FERRY_SOURCE_DIR, FERRY_BUILD_DIR, FERRY_SHARED_DIR (set by ctest).
Exit: 0 when every case passed, 1 when one failed, 2 on a malformed case or setup error.
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

SRC = os.environ.get("FERRY_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BUILD = os.environ.get("FERRY_BUILD_DIR", os.path.join(SRC, "build"))
SHARED = os.environ.get("FERRY_SHARED_DIR", os.path.join(SRC, "..", "shared"))
FERRY = os.path.join(BUILD, "ferry")
FERRYC = os.path.join(BUILD, "ferryc")
CASES = os.path.join(SRC, "tests", "appdefs")
APPDEFS = os.path.join(SRC, "appdefs")

# The source user on each sample machine, and the target user (always the Windows 10 sample).
ACCOUNTS = {"xp": "OLDCORP\\jsmith", "win10": "NEWCORP\\jsmith"}
NTUSER = {"xp": "Documents and Settings/jsmith/NTUSER.DAT", "win10": "Users/jsmith/NTUSER.DAT"}
SOFTWARE = {"xp": "WINDOWS/system32/config/software", "win10": "Windows/System32/config/SOFTWARE"}

REG_TYPES = {"REG_NONE": 0, "REG_SZ": 1, "REG_EXPAND_SZ": 2, "REG_BINARY": 3, "REG_DWORD": 4,
             "REG_DWORD_BIG_ENDIAN": 5, "REG_LINK": 6, "REG_MULTI_SZ": 7, "REG_QWORD": 11}
TYPE_NAMES = {v: k for k, v in REG_TYPES.items()}


class CaseError(Exception):
    """A malformed case file (exit 2), as opposed to a failed expectation."""


def run(cmd, log=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    if log is not None:
        log.append("$ " + " ".join(cmd) + "\n" + out)
    return p.returncode, out


# ---- .reg text ----

def _unescape_reg(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in "\\\"":
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


STR = r'"((?:[^"\\]|\\.)*)"'


def _utf16z(s):
    return s.encode("utf-16-le") + b"\0\0"


def _hexbytes(b):
    return ",".join("%02x" % x for x in b)


def expand_shorthands(src, dst):
    """tests/machines/README.md's two shorthands: "v"=expand:"..." and "v"=multi:"a","b"."""
    lines = []
    with open(src, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            m = re.match(r'^(\s*(?:"(?:[^"\\]|\\.)*"|@)=)(expand|multi):(.*)$', line)
            if m:
                head, kind, rest = m.groups()
                items = re.findall(STR, rest)
                if not items or re.sub(r"\s*" + STR + r"\s*,?", "", rest).strip():
                    raise CaseError("%s:%d: bad %s: value" % (src, n, kind))
                if kind == "expand":
                    data, t = _utf16z(_unescape_reg(items[0])), 2
                else:
                    data, t = b"".join(_utf16z(_unescape_reg(x)) for x in items) + b"\0\0", 7
                line = "%shex(%d):%s" % (head, t, _hexbytes(data))
            lines.append(line)
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def parse_reg_export(path, hklm_prefix=None):
    """Parses a `ferry reg export` file into ({(key, name): (type, bytes)}, {keys}); keys and
    names are lower-cased, HKEY_CURRENT_USER is written HKCU."""
    raw = open(path, "rb").read()
    bom16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    text = raw.decode("utf-16") if bom16 else raw.decode("utf-8-sig")
    joined, cur = [], ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if cur:
            line = cur + line.lstrip()
        if line.endswith("\\") and not line.startswith("["):
            cur = line[:-1]
            continue
        cur = ""
        joined.append(line)
    values, keys, key = {}, set(), None
    for line in joined:
        if line.startswith("[") and line.endswith("]"):
            key = line[1:-1]
            key = re.sub(r"^HKEY_CURRENT_USER", "HKCU", key, flags=re.I)
            key = re.sub(r"^HKEY_LOCAL_MACHINE", "HKLM", key, flags=re.I)
            keys.add(key.lower())
            continue
        if key is None or not line or line.startswith(";"):
            continue
        if line.startswith("@="):
            name, rest = "", line[2:]
        else:
            m = re.match(STR + "=(.*)$", line)
            if not m:
                continue
            name, rest = _unescape_reg(m.group(1)), m.group(2)
        if rest.startswith('"'):
            t, data = 1, _utf16z(_unescape_reg(rest[1:-1]))
        elif rest.startswith("dword:"):
            t, data = 4, int(rest[6:], 16).to_bytes(4, "little")
        elif rest.startswith("hex:"):
            t, data = 3, bytes.fromhex(rest[4:].replace(",", ""))
        else:
            m = re.match(r"hex\(([0-9a-fA-F]+)\):(.*)$", rest)
            if not m:
                continue
            t, data = int(m.group(1), 16), bytes.fromhex(m.group(2).replace(",", ""))
        values[(key.lower(), name.lower())] = (t, data)
    return values, keys


def show(tv):
    if tv is None:
        return "(absent)"
    t, data = tv
    name = TYPE_NAMES.get(t, "type %d" % t)
    if t in (1, 2, 6):
        return "%s %r" % (name, data.decode("utf-16-le", "replace").rstrip("\0"))
    if t == 7:
        return "%s %r" % (name, [x for x in data.decode("utf-16-le", "replace").split("\0") if x])
    if t == 4 and len(data) == 4:
        return "%s 0x%x" % (name, int.from_bytes(data, "little"))
    if t == 11 and len(data) == 8:
        return "%s 0x%x" % (name, int.from_bytes(data, "little"))
    return "%s %s" % (name, _hexbytes(data))


def literal(tname, text, where):
    """Type and bytes of an expectation's literal: REG_SZ rest-of-line ("" for empty),
    REG_MULTI_SZ a JSON list, REG_DWORD/REG_QWORD a number, others hex bytes."""
    if tname not in REG_TYPES:
        raise CaseError("%s: unknown type %s" % (where, tname))
    t = REG_TYPES[tname]
    try:
        if t in (1, 2, 6):
            return t, _utf16z("" if text == '""' else text)
        if t == 7:
            items = json.loads(text)
            return t, b"".join(_utf16z(x) for x in items) + b"\0\0"
        if t in (4, 5, 11):
            v = int(text, 0)
            if t == 11:
                return t, v.to_bytes(8, "little")
            return t, v.to_bytes(4, "big" if t == 5 else "little")
        return t, b"" if text == '""' else bytes.fromhex(text.replace(",", "").replace(" ", ""))
    except (ValueError, OverflowError, TypeError) as e:
        raise CaseError("%s: bad %s data %r: %s" % (where, tname, text, e))


# ---- known folders and files ----

def known_folders(machine, account):
    # the JSON is on stdout; warnings (a dirty fixture hive) go to stderr
    p = subprocess.run([FERRY, "machine", "--machine", machine, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise CaseError("ferry machine %s: exit %d: %s" % (machine, p.returncode,
                                                           p.stderr.decode("utf-8", "replace")))
    d = json.loads(p.stdout.decode("utf-8"))
    folders = {}
    for k, v in d.get("machine_folders", {}).items():
        folders[k.lower()] = v.get("path")
    for u in d["users"]:
        if u["account"].lower() == account.lower():
            for k, v in u["known_folders"].items():
                folders[k.lower()] = v.get("path")
            return folders
    raise CaseError("%s: no user %s" % (machine, account))


def host_path(machine, folders, tpath, where):
    """<Token>\\rest -> a path on the mounted volume (drive C: only)."""
    m = re.match(r"^<([^>]+)>(\\.*)?$", tpath)
    if not m:
        raise CaseError("%s: %r does not begin with a <Token>" % (where, tpath))
    base = folders.get(m.group(1).lower())
    if not base:
        raise CaseError("%s: <%s> has no folder on %s" % (where, m.group(1), machine))
    win = base + (m.group(2) or "")
    if not re.match(r"^[Cc]:", win):
        raise CaseError("%s: %s is not on drive C:" % (where, win))
    parts = [x for x in win[2:].split("\\") if x]
    return os.path.join(machine, *parts)


def file_time(s, where):
    try:
        d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise CaseError("%s: bad time %r" % (where, s))
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


def write_files(listing, machine, folders):
    """file | <Token>\\path | text:...|bytes:SIZE | [MTIME] (times default to 2020-01-02)."""
    for n, line in enumerate(open(listing, encoding="utf-8"), 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = "%s:%d" % (listing, n)
        f = [x.strip() for x in line.split(" | ")]
        if f[0] not in ("file", "dir") or len(f) < 2:
            raise CaseError("%s: expected file | <Token>\\PATH | CONTENT [| MTIME]" % where)
        p = host_path(machine, folders, f[1], where)
        if f[0] == "dir":
            os.makedirs(p, exist_ok=True)
            continue
        if len(f) not in (3, 4):
            raise CaseError("%s: expected file | <Token>\\PATH | CONTENT [| MTIME]" % where)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        c = f[2]
        if c.startswith("text:"):
            body = re.sub(r"\\([rnt\\])", lambda m: {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}[
                m.group(1)], c[5:]).encode("utf-8")
        elif c.startswith("bytes:"):
            body = hashlib.shake_256(f[1].encode("utf-8")).digest(int(c[6:]))
        else:
            raise CaseError("%s: content is text:... or bytes:SIZE" % where)
        with open(p, "wb") as o:
            o.write(body)
        t = file_time(f[3] if len(f) == 4 else "2020-01-02T03:04:05Z", where)
        os.utime(p, (t, t))


# ---- one case ----

class Case:
    def __init__(self, path):
        self.path = path
        self.dir = os.path.dirname(path)
        self.appdef = os.path.basename(self.dir)
        self.name = "%s/%s" % (self.appdef, os.path.basename(path)[:-5])
        self.source = None
        self.hive = None
        self.regs, self.soft_regs, self.target_regs, self.target_soft_regs = [], [], [], []
        self.files, self.target_files = [], []
        self.select, self.target_versions, self.rules = [], [], []
        self.exits = {"extract": "0", "inject": "0"}
        self.expect = []
        xfail = None
        for n, raw in enumerate(open(path, encoding="utf-8"), 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = "%s:%d" % (path, n)
            word, _, rest = line.strip().partition(" ")
            rest = rest.strip()
            if word == "source":
                if rest not in ("xp", "win10"):
                    raise CaseError("%s: source is xp or win10" % where)
                self.source = rest
            elif word == "hive":
                self.hive = rest
            elif word in ("source-reg", "source-reg-software", "target-reg",
                          "target-reg-software", "source-files", "target-files"):
                f = os.path.join(self.dir, rest)
                if not os.path.isfile(f):
                    raise CaseError("%s: no file %s" % (where, f))
                {"source-reg": self.regs, "source-reg-software": self.soft_regs,
                 "target-reg": self.target_regs, "target-reg-software": self.target_soft_regs,
                 "source-files": self.files, "target-files": self.target_files}[word].append(f)
            elif word == "select":
                self.select.append(rest)
            elif word == "target-version":
                self.target_versions.append(rest)
            elif word == "rule":
                self.rules.append(rest)
            elif word == "exit":
                op, _, code = rest.partition(" ")
                if op not in self.exits or not re.match(r"^[0-9|]+$", code):
                    raise CaseError("%s: exit extract|inject CODE[|CODE]" % where)
                self.exits[op] = code
            elif word == "xfail":
                # "xfail REASON": the next expectation must FAIL (a known bug, named in
                # REASON); once it passes, the case fails so that the marker is removed.
                xfail = rest or "(no reason given)"
            elif word in ("file", "no-file", "reg", "no-reg", "key", "no-key", "log", "no-log"):
                self.expect.append((word, rest, where, xfail))
                xfail = None
            else:
                raise CaseError("%s: unknown directive %r" % (where, word))
        if not self.source or not self.select or not self.expect:
            raise CaseError("%s: a case needs source, select and at least one expectation" % path)


def split_reg_ref(text, where):
    """'HKCU\\Key [Name]' -> ('hkcu\\key', 'name'); the name may be empty ([])."""
    m = re.match(r"^(.*?)\s*\[(.*)\]$", text)
    if not m:
        raise CaseError("%s: expected KEY [NAME], got %r" % (where, text))
    return m.group(1), m.group(2)


class Runner:
    def __init__(self, machines, work):
        self.machines = machines
        self.work = work
        self.hive_cache = {}
        self.failures = []

    def fixture_hive(self, name):
        if name not in self.hive_cache:
            src = os.path.join(SHARED, "fixtures", "hives", name + ".xz")
            if not os.path.isfile(src):
                return None
            dst = os.path.join(self.work, "hives", name)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as o:
                subprocess.run(["xz", "-dc", src], stdout=o, check=True)
            self.hive_cache[name] = dst
        return self.hive_cache[name]

    def import_reg(self, hive, frag, d, log):
        tmp = os.path.join(d, "frag-%d.reg" % len(log))
        expand_shorthands(frag, tmp)
        rc, out = run([FERRY, "reg", "import", hive, tmp], log)
        if rc != 0:
            raise CaseError("%s: ferry reg import failed (%d): %s" % (frag, rc, out))

    def export(self, hive, d, tag):
        out = os.path.join(d, tag + ".reg")
        rc, msg = run([FERRY, "reg", "export", hive, "-o", out])
        if rc != 0:
            raise CaseError("ferry reg export %s failed: %s" % (hive, msg))
        return parse_reg_export(out)

    def run_case(self, c):
        fails = []
        d = os.path.join(self.work, c.name.replace("/", "__"))
        os.makedirs(d)
        log = []
        src, tgt = os.path.join(d, "src"), os.path.join(d, "tgt")
        shutil.copytree(os.path.join(self.machines, c.source), src, symlinks=True)
        shutil.copytree(os.path.join(self.machines, "win10"), tgt, symlinks=True)
        src_ntuser = os.path.join(src, NTUSER[c.source])
        tgt_ntuser = os.path.join(tgt, NTUSER["win10"])
        if c.hive:
            h = self.fixture_hive(c.hive)
            if h is None:
                return "skip", ["fixture hive %s not found under %s" % (c.hive, SHARED)]
            shutil.copyfile(h, src_ntuser)
        for frag in c.regs:
            self.import_reg(src_ntuser, frag, d, log)
        for frag in c.soft_regs:
            self.import_reg(os.path.join(src, SOFTWARE[c.source]), frag, d, log)
        for frag in c.target_regs:
            self.import_reg(tgt_ntuser, frag, d, log)
        for frag in c.target_soft_regs:
            self.import_reg(os.path.join(tgt, SOFTWARE["win10"]), frag, d, log)
        account = ACCOUNTS[c.source]
        sfold = known_folders(src, account)
        tfold = known_folders(tgt, ACCOUNTS["win10"])
        for fl in c.files:
            write_files(fl, src, sfold)
        for fl in c.target_files:
            write_files(fl, tgt, tfold)
        # the source's registry as it was extracted, for "= source" expectations
        src_vals, _ = self.export(src_ntuser, d, "source-hkcu")
        src_soft, _ = self.export(os.path.join(src, SOFTWARE[c.source]), d, "source-software")
        # the template: a one-line (or few-line) SE.ptt
        tdir = os.path.join(d, "template")
        os.makedirs(tdir)
        with open(os.path.join(tdir, "SE.ptt"), "w") as f:
            f.write("\n".join(c.select) + "\n")
        if c.rules:
            with open(os.path.join(tdir, "SE.rul"), "w") as f:
                f.write("\n".join(c.rules) + "\n")
        with open(os.path.join(tdir, "SE.cfg"), "w") as f:
            f.write("[Logging]\nLog Level=Verbose\n")
            if c.target_versions:
                f.write("[Target Versions]\n" + "\n".join(c.target_versions) + "\n")
        prog = os.path.join(d, "SE.fyb")
        rc, out = run([FERRYC, "compile", "-A", APPDEFS, "-o", prog,
                       os.path.join(tdir, "SE.cfg")], log)
        if rc != 0:
            return "fail", ["ferryc compile exit %d: %s" % (rc, out.strip())]
        store, logs = os.path.join(d, "store"), os.path.join(d, "logs")
        rc, out = run([FERRY, "extract", "--machine", src, "--store", store, "--program", prog,
                       "--include-user", account, "--log-dir", logs, "--hide-status",
                       "--log-level", "verbose"], log)
        if not re.match(r"^(%s)$" % c.exits["extract"], str(rc)):
            fails.append("extract exit %d (wanted %s): %s" % (rc, c.exits["extract"], out.strip()))
        rc, out = run([FERRY, "inject", "--machine", tgt, "--store", store, "--domain",
                       "OLDCORP:NEWCORP", "--include-user", account, "--log-dir", logs,
                       "--hide-status", "--log-level", "verbose"], log)
        if not re.match(r"^(%s)$" % c.exits["inject"], str(rc)):
            fails.append("inject exit %d (wanted %s): %s" % (rc, c.exits["inject"], out.strip()))
        tgt_vals, tgt_keys = self.export(tgt_ntuser, d, "target-hkcu")
        tgt_soft, tgt_soft_keys = self.export(os.path.join(tgt, SOFTWARE["win10"]), d,
                                              "target-software")
        tfold = known_folders(tgt, ACCOUNTS["win10"])

        def side(key, vals, soft):
            k = key.lower()
            if k.startswith("hkcu\\") or k == "hkcu":
                return vals
            if k.startswith("hklm\\software\\"):
                return soft
            raise CaseError("%s: only HKCU\\... and HKLM\\SOFTWARE\\... are checked" % key)

        logtext = {}
        ctx = None
        for op in ("Ext", "Inj"):
            logtext[op] = "".join(open(p, encoding="utf-8", errors="replace").read()
                                  for p in sorted(glob.glob(os.path.join(logs, "*_%s.log" % op))))
        ctx = (tgt, tfold, src, sfold, tgt_vals, tgt_soft, tgt_keys, tgt_soft_keys, src_vals,
               src_soft, logtext, side)
        for kind, text, where, xfail in c.expect:
            before = len(fails)
            self.check(kind, text, where, fails, ctx)
            if xfail is not None:
                if len(fails) == before:
                    fails.append("%s: passes now, but is marked xfail (%s): remove the marker"
                                 % (where, xfail))
                else:
                    del fails[before:]
        if fails:
            with open(os.path.join(d, "commands.txt"), "w") as f:
                f.write("\n".join(log))
        return ("fail" if fails else "pass"), fails

    def check(self, kind, text, where, fails, ctx):
        """Checks one expectation against the target, appending failures to fails."""
        (tgt, tfold, src, sfold, tgt_vals, tgt_soft, tgt_keys, tgt_soft_keys, src_vals, src_soft,
         logtext, side) = ctx
        if kind in ("file", "no-file"):
            tpath, _, srcref = text.partition(" = source ")
            tpath = tpath.strip()
            p = host_path(tgt, tfold, tpath, where)
            if kind == "no-file":
                if os.path.lexists(p):
                    fails.append("%s: %s should not be on the target" % (where, tpath))
                return
            sp = host_path(src, sfold, (srcref or tpath).strip(), where)
            if not os.path.isfile(p):
                fails.append("%s: %s is missing on the target" % (where, tpath))
            elif not os.path.isfile(sp):
                fails.append("%s: the source has no %s" % (where, srcref or tpath))
            elif open(p, "rb").read() != open(sp, "rb").read():
                fails.append("%s: %s differs from the source's copy" % (where, tpath))
            elif int(os.stat(p).st_mtime) != int(os.stat(sp).st_mtime):
                fails.append("%s: %s lost its modification time" % (where, tpath))
        elif kind in ("key", "no-key"):
            k = text.strip().lower()
            keys = tgt_keys if k.startswith("hkcu") else tgt_soft_keys
            has = k in keys or any(x.startswith(k + "\\") for x in keys)
            if kind == "key" and not has:
                fails.append("%s: key %s is missing on the target" % (where, text))
            if kind == "no-key" and has:
                fails.append("%s: key %s should not be on the target" % (where, text))
        elif kind == "no-reg":
            key, name = split_reg_ref(text, where)
            got = side(key, tgt_vals, tgt_soft).get((key.lower(), name.lower()))
            if got is not None:
                fails.append("%s: %s [%s] should not be on the target, found %s" % (
                    where, key, name, show(got)))
        elif kind == "reg":
            lhs, eq, rhs = text.partition(" = ")
            if not eq:
                raise CaseError("%s: reg KEY [NAME] = TYPE DATA | source [KEY [NAME]]" % where)
            key, name = split_reg_ref(lhs.strip(), where)
            got = side(key, tgt_vals, tgt_soft).get((key.lower(), name.lower()))
            rhs = rhs.strip()
            if rhs == "source" or rhs.startswith("source "):
                skey, sname = (key, name) if rhs == "source" else split_reg_ref(rhs[7:].strip(),
                                                                               where)
                want = side(skey, src_vals, src_soft).get((skey.lower(), sname.lower()))
                if want is None:
                    fails.append("%s: the source has no %s [%s]" % (where, skey, sname))
                    return
            else:
                tname, _, data = rhs.partition(" ")
                want = literal(tname, data.strip(), where)
            if got != want:
                fails.append("%s: %s [%s] is %s, wanted %s" % (where, key, name, show(got),
                                                               show(want)))
        elif kind in ("log", "no-log"):
            op, _, rx = text.partition(" ")
            lt = logtext.get({"extract": "Ext", "inject": "Inj"}.get(op, ""), None)
            if lt is None or not lt:
                raise CaseError("%s: %s extract|inject REGEX (and the log must exist)" % (where,
                                                                                      kind))
            found = re.search(rx, lt, re.M) is not None
            if kind == "log" and not found:
                fails.append("%s: the %s log does not match /%s/" % (where, op, rx))
            if kind == "no-log" and found:
                fails.append("%s: the %s log matches /%s/" % (where, op, rx))


def appdef_ids():
    ids = {}
    for p in sorted(glob.glob(os.path.join(APPDEFS, "*.yaml"))):
        for line in open(p, encoding="utf-8-sig"):
            m = re.match(r"^id:\s*(\S+)", line)
            if m:
                ids[m.group(1)] = p
                break
    return ids


def content_paths():
    """id -> content path, read from the appdefs (top-level content-path: lines)."""
    out = {}
    for i, p in appdef_ids().items():
        for line in open(p, encoding="utf-8-sig"):
            m = re.match(r"^content-path:\s*(.+?)\s*$", line)
            if m:
                out[i] = m.group(1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--machines", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--keep", action="store_true", help="keep each case's folder")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    r = Runner(a.machines, a.work)
    try:
        paths = content_paths()
        cases = []
        for p in sorted(glob.glob(os.path.join(CASES, "*", "*.case"))):
            c = Case(p)
            if c.appdef not in paths:
                raise CaseError("%s: the folder is not the id of an appdef in appdefs/" % p)
            # a case selects its appdef, a part of it, or a node above it (a suite)
            if not any(s.lstrip("-").startswith(paths[c.appdef]) or
                       paths[c.appdef].startswith(s) for s in c.select):
                raise CaseError("%s: no select line reaches %s" % (p, paths[c.appdef]))
            cases.append(c)
        missing = sorted(set(paths) - {c.appdef for c in cases})
        if missing and not a.only:
            raise CaseError("appdefs without a case in tests/appdefs/: " + ", ".join(missing))
    except CaseError as e:
        print("appdefs_cases: %s" % e)
        return 2
    failed = passed = skipped = 0
    for c in cases:
        if a.only and not any(o in c.name for o in a.only):
            continue
        try:
            status, msgs = r.run_case(c)
        except CaseError as e:
            print("ERROR %s: %s" % (c.name, e))
            return 2
        if status == "pass":
            passed += 1
            print("ok   %s" % c.name)
            if not a.keep:
                shutil.rmtree(os.path.join(a.work, c.name.replace("/", "__")), ignore_errors=True)
        elif status == "skip":
            skipped += 1
            print("skip %s: %s" % (c.name, "; ".join(msgs)))
        else:
            failed += 1
            print("FAIL %s" % c.name)
            for m in msgs:
                print("    " + m)
    print("appdefs_cases: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
