"""The man pages (deploy/*.[1-8]) against the programs they document.

For each program, the options its --help names and the options the tag
lines of its page's OPTIONS section name are the same set; every option
its source accepts is in --help (so a new option cannot skip both); and
every page renders without a warning from groff and mandoc, has the
sections a reader looks for, and refers only to Vigie pages that exist.
The self-checks feed modified copies, so each comparison is seen to fail.
"""
import glob
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
BUILD = os.environ.get("VIGIE_BUILD", os.path.join(ROOT, "build", "host"))
DEPLOY = os.path.join(ROOT, "deploy")
PAGES = sorted(glob.glob(os.path.join(DEPLOY, "*.[1-8]")))

# an option: - or -- and a letter, not inside a word (read-only, 1-3)
OPTION = re.compile(r"(?<![\w/.-])--?[A-Za-z][A-Za-z0-9-]*")


def _src(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _agent_src():
    return set(re.findall(r'strcmp\(a, "(-[^"]+)"\)', _src("firmware/main.c")))


def _gateway_src():
    text = _src("gateway/gw_opts.c") + _src("gateway/gw_report.c")
    return {"--" + n for n in re.findall(
        r'\{ "([a-z][a-z-]*)", (?:no|required|optional)_argument', text)}


def _sim_src():
    return set(re.findall(r'strcmp\((?:o|argv\[i\]), "(-[^"]+)"\)',
                          _src("tools/sim/main.c")))


def _pki_src():
    """The patterns of the option loop's case (--region=* is --region)."""
    text = _src("tools/vigie-pki")
    loop = text[text.index('case "$1" in'):text.index("esac")]
    found = set()
    for pats in re.findall(r"^\s*([^\s)]+)\)", loop, re.M):
        for p in pats.split("|"):
            p = p.removesuffix("=*")
            if OPTION.fullmatch(p):
                found.add(p)
    return found


PROGRAMS = {
    "vigie-agent": ("vigie-agent.8", [["@BUILD/vigie-agent", "--help"]],
                    _agent_src),
    "vigie-gateway": ("vigie-gateway.8",
                      [["@BUILD/vigie-gateway", "--help"],
                       ["@BUILD/vigie-gateway", "report", "--help"]],
                      _gateway_src),
    "vigie-sim": ("vigie-sim.1", [["@BUILD/vigie-sim", "--help"]], _sim_src),
    "vigie-pki": ("vigie-pki.1", [["@ROOT/tools/vigie-pki", "--help"]],
                  _pki_src),
}


def help_options(cmds):
    """Options named by the output of each --help command (exit 0)."""
    found = set()
    for cmd in cmds:
        argv = [a.replace("@BUILD", BUILD).replace("@ROOT", ROOT)
                for a in cmd]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                           check=False)
        assert r.returncode == 0, f"{' '.join(argv)}: exit {r.returncode}"
        assert r.stdout.strip(), f"{' '.join(argv)}: nothing on stdout"
        found |= set(OPTION.findall(r.stdout))
    return found


def _plain(roff):
    """A roff line as text: no macro name, fonts, quotes or escapes."""
    roff = re.sub(r"^\.[A-Z]{1,2}\s*", "", roff)
    roff = re.sub(r"\\f(\(..|\[[^]]*\]|.)", "", roff)
    roff = roff.replace("\\-", "-").replace("\\&", "").replace('"', " ")
    return roff


def page_options(path):
    """Options named by the tag lines (the line after .TP) of OPTIONS and
    its subsections, up to the next .SH."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    found, inside = set(), False
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            inside = line.split(None, 1)[1:] == ["OPTIONS"]
        elif inside and line.startswith(".TP") and i + 1 < len(lines):
            found |= set(OPTION.findall(_plain(lines[i + 1])))
    return found


def differences(name, in_help, in_page):
    """What one side names and the other does not, said in words."""
    out = []
    if in_help - in_page:
        out.append(f"{name}: in --help, missing from the man page's "
                   f"OPTIONS: {' '.join(sorted(in_help - in_page))}")
    if in_page - in_help:
        out.append(f"{name}: in the man page's OPTIONS, missing from "
                   f"--help: {' '.join(sorted(in_page - in_help))}")
    return out


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_help_and_page_name_the_same_options(name):
    page, cmds, _ = PROGRAMS[name]
    in_help = help_options(cmds)
    in_page = page_options(os.path.join(DEPLOY, page))
    assert "--help" in in_help, f"{name}: --help does not name itself"
    assert differences(name, in_help, in_page) == []


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_help_names_every_option_the_source_takes(name):
    _, cmds, source = PROGRAMS[name]
    taken = source()
    assert len(taken) >= 2, f"{name}: the source's options were not found"
    missing = taken - help_options(cmds)
    assert not missing, (f"{name}: the source takes "
                         f"{' '.join(sorted(missing))}, --help omits it")


def test_a_page_that_drifts_is_caught(tmp_path):
    """A copy of the agent's page without --version and with an option
    the agent does not have: both are named, each on its side."""
    with open(os.path.join(DEPLOY, "vigie-agent.8"), encoding="utf-8") as f:
        text = f.read()
    drop = ".TP\n.B \\-\\-version\n"
    assert drop in text
    text = text.replace(drop, ".TP\n.B \\-\\-verbose\n")
    copy = tmp_path / "vigie-agent.8"
    copy.write_text(text, encoding="utf-8")
    got = differences("vigie-agent",
                      help_options(PROGRAMS["vigie-agent"][1]),
                      page_options(str(copy)))
    assert got == [
        "vigie-agent: in --help, missing from the man page's OPTIONS: "
        "--version",
        "vigie-agent: in the man page's OPTIONS, missing from --help: "
        "--verbose"]


def lint(path):
    """groff's and mandoc's warnings about a page, as text ('' if none)."""
    g = subprocess.run(["groff", "-man", "-ww", "-z", path],
                       capture_output=True, text=True, timeout=10,
                       check=False)
    m = subprocess.run(["mandoc", "-Tlint", "-W", "warning", path],
                       capture_output=True, text=True, timeout=10,
                       check=False)
    return (g.stderr + m.stdout + m.stderr).strip()


def test_tools_present():
    for tool in ("groff", "mandoc"):
        assert shutil.which(tool), f"{tool} missing: make deps"


@pytest.mark.parametrize("page", [os.path.basename(p) for p in PAGES])
def test_page_renders_without_warnings(page):
    assert lint(os.path.join(DEPLOY, page)) == ""


def test_a_bad_page_is_caught(tmp_path):
    bad = tmp_path / "bad.8"
    with open(os.path.join(DEPLOY, "vigie-sim.1"), encoding="utf-8") as f:
        bad.write_text(f.read() + ".XX not a macro\n\\fBunclosed \\X\n",
                       encoding="utf-8")
    assert lint(str(bad)) != ""


@pytest.mark.parametrize("page", [os.path.basename(p) for p in PAGES])
def test_page_has_the_usual_sections(page):
    with open(os.path.join(DEPLOY, page), encoding="utf-8") as f:
        heads = {m.strip('"') for m in re.findall(r"^\.SH (.+)$", f.read(),
                                                    re.M)}
    want = {"NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXIT STATUS",
            "EXAMPLES", "SEE ALSO"}
    if page.endswith((".1", ".8")):
        want.add("OPTIONS")
    assert want <= heads, f"{page}: no {' '.join(sorted(want - heads))}"


def test_every_vigie_page_referred_to_exists():
    names = {os.path.basename(p) for p in PAGES}
    for path in PAGES:
        with open(path, encoding="utf-8") as f:
            refs = re.findall(r"^\.BR (vigie-[\w.-]+) \((\d)\)", f.read(),
                              re.M)
        for name, sec in refs:
            assert f"{name}.{sec}" in names, \
                f"{os.path.basename(path)} refers to {name}({sec})"


def test_every_program_has_its_page():
    names = {os.path.basename(p) for p in PAGES}
    assert {p[0] for p in PROGRAMS.values()} <= names
