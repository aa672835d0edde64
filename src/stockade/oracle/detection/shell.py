"""OS command injection by reading a value as a shell (sh, cmd.exe, PowerShell) would.

A value is split into commands at the places a shell starts one: the value's start, after
``;``, ``|``, ``||``, ``&``, ``&&``, a line break, inside ``$( )``, ``` `` `` and ``<( )``.
Each command's first word (after environment assignments and wrappers such as ``sudo`` or
``nohup``, with the quotes, backslashes, carets and empty expansions that evasions insert
removed: ``c'a't``, ``c\\at``, ``who$@ami``, ``/bin/c""at``) is looked up in lists of Unix and
Windows commands. A command counts when:

* it follows a separator and is a command that is not an ordinary word (``wget``, ``whoami``,
  ``nc``), or an ordinary word (``cat``, ``ls``, ``id``, ``ping``) standing alone or with the
  arguments a shell takes (a flag, a path, a redirection, a URL, an address, a variable);
  after a single ``&`` (prose: "copy & paste") an ordinary word needs such arguments;
* it is inside ``$( )``, backticks or ``<( )``;
* it starts the value and invokes a shell or an interpreter with its flag (``bash -c``,
  ``cmd /c``, ``powershell -enc``, ``python -c``, ``nc -e``), or is a command that is not an
  ordinary word with the arguments a shell takes, or reads a system path (``cat /etc/passwd``,
  ``type c:\\boot.ini``).

Obfuscations count on their own: ``${IFS}``, ``$IFS$9``, ``{cat,/etc/passwd}``, ``$'\\x63at'``,
binaries named by wildcards (``/???/b??h``), ``/dev/tcp/`` and PowerShell's download cradles.
Ordinary text has no separator before a command, or an ordinary word after one with words
after it: ``Tom & Jerry``, ``I came; I saw``, ``$(document).ready()``.
"""

from __future__ import annotations

import re

from stockade.oracle.detection.gate import Search


def _words(text: str) -> frozenset[str]:
    """The white-space separated words of ``text``: long word lists stay readable as text."""
    return frozenset(text.split())


# Commands whose names are ordinary words (or too short to mean anything alone).
COMMON = _words(
    """
    cat id ls head tail find sort cut diff file type which who w last top kill time date echo yes wait sleep
    watch host dig route ip set export source make cp mv rm ln ps df du dd ss nl od tr wc env stat uniq tee
    ping locate shutdown reboot cd dir copy del move ren net ver vol tree reg attrib erase rd md mkdir touch
    sum rev tar zip grep nice more less mount
    """
)
# Commands whose names are not ordinary words.
DISTINCTIVE = _words(
    """
    whoami uname ifconfig ipconfig netstat nslookup wget curl nc ncat netcat socat telnet chmod chown
    chgrp chattr passwd useradd usermod adduser userdel groupadd sudo bash sh zsh ksh csh tcsh dash
    busybox python python2 python3 perl ruby php lua node nodejs gcc cc xxd hexdump strings base64
    base32 awk gawk nawk mawk sed egrep fgrep rgrep xargs vim nano pstree htop killall pkill pgrep
    nohup tmux crontab systemctl poweroff umount fdisk lsblk lsof iptables nft tcpdump ping6 traceroute
    tracert tracepath whois ftp tftp sftp scp ssh rsync gzip gunzip unzip bzip2 xz zcat bzcat xzcat
    printenv getent lastlog uptime hostname hostnamectl lscpu lspci lsusb dmesg journalctl sysctl
    modprobe insmod lsmod chroot strace ltrace gdb nmap masscan hydra openssl gpg ssh-keygen mkfifo
    mknod nmcli iwconfig arp readlink realpath dirname basename whereis ulimit umask chsh pushd popd
    visudo getfacl setfacl sha1sum sha256sum md5sum cksum shred wall pwd rmdir mkfs fsck blkid lsattr
    systeminfo tasklist taskkill schtasks certutil bitsadmin wmic powershell pwsh cmd cscript wscript
    mshta rundll32 regsvr32 regedit msiexec icacls cacls takeown netsh nbtstat qwinsta quser
    cmdkey vssadmin wevtutil bcdedit diskpart sfc xcopy robocopy findstr forfiles timeout ipconfig
    getmac runas psexec wevtutil dsquery nltest klist whoami.exe cmd.exe powershell.exe lwp-download lwp-request
    aria2c axel
    invoke-expression invoke-webrequest invoke-restmethod iex iwr irm start-process new-object
    set-executionpolicy get-content get-childitem get-process get-wmiobject add-mppreference
    ipconfig.exe net.exe net1 ping.exe ftp.exe nc.exe ncat.exe wget.exe curl.exe certutil.exe
    """
)
_WRAPPERS = _words("sudo nohup time env exec nice command builtin xargs busybox doas eval then do ! {")
_SHELLS = _words("bash sh zsh ksh csh tcsh dash fish busybox")
_INTERPRETERS = {
    "python": "c",
    "python2": "c",
    "python3": "c",
    "perl": "e",
    "ruby": "e",
    "php": "r",
    "node": "e",
    "nodejs": "e",
    "lua": "e",
}

_SEPARATOR = re.compile(r"(\|\||&&|[;|&\n\r`]|\$\(\(?|[<>]\(|\)|\()")
_STRICT_SEPARATOR = re.compile(r"(\|\||&&|[|\n\r`]|\$\(\(?|[<>]\(|;(?=\S)|&(?=\S))")
_WORD = re.compile(r"[^\s;|&<>()`]+")
_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=\S*$")
_EMPTY = re.compile(r"\$(?:[@*#?!0-9]|\{[@*]?\})|['\"]{2}")
_NOISE = re.compile(r"[\\'\"^]")
_OBFUSCATION = Search(
    r"""\$\{?ifs\b|\$\{\w+:\d+:\d+\}|\$'\\(?:x[0-9a-f]{2}|\d{3})|/dev/(?:tcp|udp)/
    |(?:^|[\s;|&`(=])/(?:[\w.-]*/)*[\w.-]*(?:\*|\?(?:[/?*\s+]|$)|\[[^\]/\n]+\])   # /???/b??h, /bin/ca?, /et*/
    |\bnc(?:at)?(?:\.exe)?\s+(?:-\w+\s+)*-[ec]\s|\bmkfifo\b.*\bnc\b|\bbash\s+-i\s*[>&]|>&\s*/dev/
    |\b(?:sh|bash)\s*<\s*\(\s*(?:curl|wget)|\|\s*(?:ba|z|k|da)?sh\b(?:\s|$)|\|\s*bash\b
    |\bpowershell(?:\.exe)?\s+(?:[-/](?:e(?:nc(?:odedcommand)?)?|nop|noprofile|noni|noninteractive|w(?:indowstyle)?|ep|exec|executionpolicy|c|command|file|sta|noexit|v(?:ersion)?)\b)
    |\b(?:iex|invoke-expression)\s*\(|\bnew-object\s+(?:system\.)?net\.webclient|\.download(?:string|file|data)\s*\(
    |\bcmd(?:\.exe)?\s*/[ckr]\b|\bcertutil(?:\.exe)?\s+-(?:urlcache|decode|encode)|\bbitsadmin(?:\.exe)?\s+/transfer
    |\bwmic\s+(?:process|os|useraccount|shadowcopy)|\bregsvr32\b.*/i:|\bmshta\s+(?:https?|javascript|vbscript):
    |\brundll32(?:\.exe)?\s+\S+,|\breg(?:\.exe)?\s+(?:add|query|delete|save|export)\s+hk|\bnet1?\s+(?:user|localgroup|group|share|view|use|session|accounts|start|stop)\b(?:\s|$)
    |\bif\s+(?:/i\s+)?(?:not\s+)?\S+\s*(?:==|\s(?:equ|neq|lss|leq|gtr|geq)\s)\s*\S+\s+@?(?:echo|goto|call|set|cd|del|copy|cmd|start|exit)\b
    |\bif\s+(?:/i\s+)?(?:not\s+)?(?:exist\s|defined\s|errorlevel\s+\d)|\bif\s+(?:/i\s+)?(?:not\s+)?\S+\s*(?:===?|\s(?:equ|neq|lss|leq|gtr|geq)\s)
    |\bfor\s+(?:/[fdrl]\b|%%?\S+\s+in\s*\()|\bif\s+(?:/i\s+)?(?:not\s+)?(?:exist\s|defined\s|errorlevel\s|"[^"]*"\s*==|%\S+%\s+(?:equ|neq|lss|leq|gtr|geq)\b)|%comspec%|%systemroot%|\bschtasks\s+/(?:create|run)|\bvssadmin\s+(?:delete|create)
    """,
    verbose=True,
)
_FLAG = re.compile(r"(?:^|\s)(?:--?[a-z0-9]|/[a-z?]{1,3}(?=\s|$|:))", re.IGNORECASE)
_SHELLISH = re.compile(
    r"""(?:^|\s)['"]?(?:/|~/?|\.{1,2}/|[a-z]:[\\/]|\\\\|%\w+%)|[<>*]|\$\w|\$\{
    |\b(?:https?|ftp|tftp)://|\b\d{1,3}(?:\.\d{1,3}){3}\b|(?:^|\s)--?[a-z]""",
    re.VERBOSE | re.IGNORECASE,
)
_SYSTEM_PATH = re.compile(
    r"""(?:^|[\s'"=])(?:/(?:etc|bin|sbin|usr|var|tmp|proc|dev|root|home|opt|boot|lib|sys)(?:/|\b)|~/\.|\.\./
    |[a-z]:[\\/](?:windows|winnt|users|inetpub|boot\.ini|program|documents|temp|\s|$)|%(?:systemroot|windir|temp|userprofile|appdata)%)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_REMOTE = re.compile(r"\b(?:https?|ftp|tftp)://|\b\d{1,3}(?:\.\d{1,3}){3}\b", re.IGNORECASE)
_NETWORK = _words(
    "wget curl ping ping6 nc ncat netcat telnet ssh scp sftp ftp tftp nslookup dig host traceroute tracert rsync socat"
)
_ALONE_AT_START = _words("whoami ifconfig ipconfig systeminfo netstat tasklist getmac printenv")
_ALONE = _ALONE_AT_START | _words("uname hostname id ls dir ver ps env pwd set")
_DELAYS = frozenset({"sleep", "timeout", "ping", "ping6"})
# Ordinary words that are still only commands right after a glued "&" (x&id, 1&ps aux).
_SHELLY = _words(
    "id ls ps pwd dir cat echo env set ver net ping sleep kill rm cp mv wc nl od tr df du dd ss ip who head tail grep"
    " tar zip touch mkdir uname"
)
_MARKERS = frozenset({"echo", "printf", "print"})  # what probes print to see their command ran
_BRACES = re.compile(r"\{([^{}\s]*,[^{}]*)\}")


def is_shell(value: str) -> bool:
    """Whether ``value`` reads as a command injected into a shell."""
    if _read(value, _SEPARATOR, strict=False):
        return True
    # A payload written for a URL's query ("+" for a space) that reached us undecoded.
    return "+" in value and " " not in value and _read(value.replace("+", " "), _SEPARATOR, strict=False)


def is_shell_strict(value: str) -> bool:
    """:func:`is_shell` for text that uses ``;``, ``&`` and parentheses of its own (a User-Agent,
    a Referer): pipes, ``&&``, ``||``, line breaks and substitutions start a command; ``;`` and
    ``&`` only glued to the command, and then it needs its arguments."""
    return _read(value, _STRICT_SEPARATOR, strict=True)


def _read(value: str, separators: re.Pattern[str], *, strict: bool) -> bool:
    if _OBFUSCATION(value) or _brace_expansion(value):
        return True
    text = _EMPTY.sub("", value)
    if "\\" in text:
        text = text.replace("\\n", "\n").replace("\\r", "\n").replace("\\t", " ")
    pieces = separators.split(text)
    # pieces: text, separator, text, separator, ...
    separator = ""
    for index in range(0, len(pieces), 2):
        if index:
            separator = pieces[index - 1]
        closer = pieces[index + 1] if index + 1 < len(pieces) else ""
        if _command(pieces[index], separator, closer, strict=strict):
            return True
    return False


def _brace_expansion(value: str) -> bool:
    """{cat,/etc/passwd}: a brace expansion whose first word is a command."""
    if "{" not in value or "," not in value:
        return False
    for found in _BRACES.finditer(value):
        first = next((item for item in found.group(1).split(",") if item), "")
        name = _NOISE.sub("", first).lower().rsplit("/", 1)[-1]
        if name in COMMON or name in DISTINCTIVE:
            return True
    return False


def _command(segment: str, separator: str, closer: str, *, strict: bool = False) -> bool:
    words = list(_WORD.finditer(segment))
    position = 0
    while position < len(words) and (
        _ASSIGNMENT.match(words[position].group()) or words[position].group().lower() in _WRAPPERS
    ):
        position += 1
    if position >= len(words):
        return False
    name = _NOISE.sub("", words[position].group()).lower()
    if "/" in name or "\\" in name:
        name = re.split(r"[\\/]", name)[-1]
    if name.endswith(".exe"):
        name = name[:-4]
    common, distinctive = name in COMMON, name in DISTINCTIVE
    if not (common or distinctive):
        return False
    rest = segment[words[position].end() :].strip()
    alone = not rest
    # Inside a substitution: $(id), `uname -a`, <(curl ...).
    if separator in ("`", "$(", "<(", ">(") and (closer in ("`", ")") or not closer):
        return True
    if not separator:
        return _at_start(name, rest, distinctive)
    if separator == ")":
        return False  # ")" ends a group; what follows it is no new command
    shellish = bool(_SHELLISH.search(rest)) or (name in _DELAYS and rest[:1].isdigit())
    # Prose puts a space after ";" and "|": "1;echo x" is no prose.
    glued = separator in (";", "|", "||", "&&") and not segment[:1].isspace()
    if separator == "&" and not strict and not segment[:1].isspace() and name in _SHELLY:
        return True  # x&id, 1&ps aux: prose puts spaces around "&"
    if separator in ("&", "(") or (strict and separator == ";"):
        # Prose uses "&" and "(": "copy & paste", "(see above)"; a command needs its arguments.
        return (distinctive and (alone or shellish)) or (common and shellish) or (alone and name in _ALONE)
    if name in _MARKERS and not strict:
        return True
    return distinctive or alone or shellish or glued or name in _ALONE


def _at_start(name: str, rest: str, distinctive: bool) -> bool:
    if not rest:
        return name in _ALONE_AT_START
    rest = _NOISE.sub("", rest)  # /e't'c/pa\sswd
    if name in _SHELLS and re.match(r"-[a-z]*[ci]\b", rest):
        return True
    flag = _INTERPRETERS.get(name)
    if flag is not None and re.match(rf"-{flag}\s", rest):
        return True
    if _SYSTEM_PATH.search(rest) or (name in _NETWORK and _REMOTE.search(rest)):
        return True
    return distinctive and bool(_FLAG.search(rest)) and name not in ("python", "perl", "ruby", "php", "node")
