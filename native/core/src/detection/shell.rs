//! OS command injection by reading a value as a shell (sh, cmd.exe, PowerShell) would (the
//! same reading as the Python oracle's `stockade.oracle.detection.shell`, which documents it).
//!
//! A value is split into commands where a shell starts one; each command's first word (after
//! assignments and wrappers, with the quotes and carets evasions insert removed) is looked up
//! in lists of Unix and Windows commands, and counts by where it stands and what follows it.
//! Obfuscations (`${IFS}`, `/???/b??h`, download cradles) count on their own.

use std::collections::HashSet;

use regex::Regex;

use super::pattern::search;
use super::text::{SPACE_CLASS, WORD_CLASS, is_digit, is_space};

const COMMON: &str = "
    cat id ls head tail find sort cut diff file type which who w last top kill time date echo yes wait sleep
    watch host dig route ip set export source make cp mv rm ln ps df du dd ss nl od tr wc env stat uniq tee
    ping locate shutdown reboot cd dir copy del move ren net ver vol tree reg attrib erase rd md mkdir touch
    sum rev tar zip grep nice more less mount";
const DISTINCTIVE: &str = "
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
    ipconfig.exe net.exe net1 ping.exe ftp.exe nc.exe ncat.exe wget.exe curl.exe certutil.exe";
const WRAPPERS: &str = "sudo nohup time env exec nice command builtin xargs busybox doas eval then do ! {";
const SHELLS: &str = "bash sh zsh ksh csh tcsh dash fish busybox";
const INTERPRETERS: [(&str, char); 9] = [
    ("python", 'c'),
    ("python2", 'c'),
    ("python3", 'c'),
    ("perl", 'e'),
    ("ruby", 'e'),
    ("php", 'r'),
    ("node", 'e'),
    ("nodejs", 'e'),
    ("lua", 'e'),
];
const NETWORK: &str = "wget curl ping ping6 nc ncat netcat telnet ssh scp sftp ftp tftp nslookup dig host traceroute tracert rsync socat";
const ALONE_AT_START: &str = "whoami ifconfig ipconfig systeminfo netstat tasklist getmac printenv";
const ALONE_MORE: &str = "uname hostname id ls dir ver ps env pwd set";
const DELAYS: [&str; 4] = ["sleep", "timeout", "ping", "ping6"];
const SHELLY: &str = "id ls ps pwd dir cat echo env set ver net ping sleep kill rm cp mv wc nl od tr df du dd ss ip who head tail grep
    tar zip touch mkdir uname";
const MARKERS: [&str; 3] = ["echo", "printf", "print"];

const OBFUSCATION: &str = r#"\$\{?ifs\b|\$\{\w+:\d+:\d+\}|\$'\\(?:x[0-9a-f]{2}|\d{3})|/dev/(?:tcp|udp)/
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
    "#;

/// The shell tokeniser's tables, built once.
#[derive(Debug)]
pub struct Shell {
    common: HashSet<&'static str>,
    distinctive: HashSet<&'static str>,
    wrappers: HashSet<&'static str>,
    shells: HashSet<&'static str>,
    network: HashSet<&'static str>,
    alone_at_start: HashSet<&'static str>,
    alone: HashSet<&'static str>,
    shelly: HashSet<&'static str>,
    obfuscation: Regex,
    word: Regex,
    assignment: Regex,
    empty: Regex,
    flag: Regex,
    shellish: Regex,
    system_path: Regex,
    remote: Regex,
    braces: Regex,
    shell_flag: Regex,
}

impl Shell {
    pub fn new() -> Result<Self, String> {
        let s = format!("[{SPACE_CLASS}]");
        let w = format!("[{WORD_CLASS}]");
        let compile = |pattern: &str| Regex::new(pattern).map_err(|error| error.to_string());
        let words = |text: &'static str| text.split_whitespace().collect::<HashSet<_>>();
        let mut alone = words(ALONE_AT_START);
        alone.extend(words(ALONE_MORE));
        Ok(Self {
            common: words(COMMON),
            distinctive: words(DISTINCTIVE),
            wrappers: words(WRAPPERS),
            shells: words(SHELLS),
            network: words(NETWORK),
            alone_at_start: words(ALONE_AT_START),
            alone,
            shelly: words(SHELLY),
            obfuscation: search(OBFUSCATION)?,
            word: compile(&format!(r"[^{SPACE_CLASS};|&<>()`]+"))?,
            assignment: compile(&format!(r"^[A-Za-z_]{w}*=[^{SPACE_CLASS}]*$"))?,
            empty: compile(r#"\$(?:[@*#?!0-9]|\{[@*]?\})|['"]{2}"#)?,
            flag: compile(&format!(
                r"(?i)(?:^|{s})(?:--?[a-z0-9]|/[a-z?]{{1,3}}(?:{s}|$|:))"
            ))?,
            shellish: compile(&format!(
                r#"(?i)(?:^|{s})['"]?(?:/|~/?|\.{{1,2}}/|[a-z]:[\\/]|\\\\|%{w}+%)|[<>*]|\${w}|\$\{{|\b(?:https?|ftp|tftp)://|\b\d{{1,3}}(?:\.\d{{1,3}}){{3}}\b|(?:^|{s})--?[a-z]"#
            ))?,
            system_path: compile(&format!(
                r#"(?i)(?:^|[{SPACE_CLASS}'"=])(?:/(?:etc|bin|sbin|usr|var|tmp|proc|dev|root|home|opt|boot|lib|sys)(?:/|\b)|~/\.|\.\./|[a-z]:[\\/](?:windows|winnt|users|inetpub|boot\.ini|program|documents|temp|{s}|$)|%(?:systemroot|windir|temp|userprofile|appdata)%)"#
            ))?,
            remote: compile(r"(?i)\b(?:https?|ftp|tftp)://|\b\d{1,3}(?:\.\d{1,3}){3}\b")?,
            braces: compile(&format!(r"\{{([^{{}}{SPACE_CLASS}]*,[^{{}}]*)\}}"))?,
            shell_flag: compile(r"^-[a-z]*[ci]\b")?,
        })
    }

    /// Whether `value` reads as a command injected into a shell.
    pub fn is_shell(&self, value: &str) -> bool {
        if self.read(value, false) {
            return true;
        }
        // A payload written for a URL's query ("+" for a space) that reached us undecoded.
        value.contains('+') && !value.contains(' ') && self.read(&value.replace('+', " "), false)
    }

    /// [`Shell::is_shell`] for text that uses `;`, `&` and parentheses of its own (a
    /// User-Agent, a Referer): `;` and `&` only start a command glued to it.
    pub fn is_shell_strict(&self, value: &str) -> bool {
        self.read(value, true)
    }

    fn read(&self, value: &str, strict: bool) -> bool {
        if self.obfuscation.is_match(value) || self.brace_expansion(value) {
            return true;
        }
        let mut text = self.empty.replace_all(value, "").into_owned();
        if text.contains('\\') {
            text = text.replace("\\n", "\n").replace("\\r", "\n").replace("\\t", " ");
        }
        let pieces = split(&text, strict);
        let mut separator = "";
        let mut index = 0;
        while let Some(piece) = pieces.get(index) {
            if index > 0 {
                separator = pieces.get(index - 1).copied().unwrap_or_default();
            }
            let closer = pieces.get(index + 1).copied().unwrap_or_default();
            if self.command(piece, separator, closer, strict) {
                return true;
            }
            index += 2;
        }
        false
    }

    /// {cat,/etc/passwd}: a brace expansion whose first word is a command.
    fn brace_expansion(&self, value: &str) -> bool {
        if !value.contains('{') || !value.contains(',') {
            return false;
        }
        for found in self.braces.captures_iter(value) {
            let inner = found.get(1).map_or("", |m| m.as_str());
            let first = inner.split(',').find(|item| !item.is_empty()).unwrap_or_default();
            let name = noise_removed(first).to_lowercase();
            let name = name.rsplit('/').next().unwrap_or_default();
            if self.common.contains(name) || self.distinctive.contains(name) {
                return true;
            }
        }
        false
    }

    fn command(&self, segment: &str, separator: &str, closer: &str, strict: bool) -> bool {
        let words: Vec<regex::Match<'_>> = self.word.find_iter(segment).collect();
        let mut position = 0;
        while let Some(word) = words.get(position) {
            if !(self.assignment.is_match(word.as_str())
                || self.wrappers.contains(word.as_str().to_lowercase().as_str()))
            {
                break;
            }
            position += 1;
        }
        let Some(word) = words.get(position) else {
            return false;
        };
        let mut name = noise_removed(word.as_str()).to_lowercase();
        if name.contains(['/', '\\']) {
            name = name.rsplit(['/', '\\']).next().unwrap_or_default().to_owned();
        }
        if let Some(stem) = name.strip_suffix(".exe") {
            name = stem.to_owned();
        }
        let name = name.as_str();
        let (common, distinctive) = (self.common.contains(name), self.distinctive.contains(name));
        if !(common || distinctive) {
            return false;
        }
        let rest = segment
            .get(word.end()..)
            .unwrap_or_default()
            .trim_matches(is_space);
        let alone = rest.is_empty();
        if matches!(separator, "`" | "$(" | "<(" | ">(") && (matches!(closer, "`" | ")") || closer.is_empty())
        {
            return true; // inside a substitution: $(id), `uname -a`, <(curl ...)
        }
        if separator.is_empty() {
            return self.at_start(name, rest, distinctive);
        }
        if separator == ")" {
            return false; // ")" ends a group; what follows it is no new command
        }
        let shellish = self.shellish.is_match(rest)
            || (DELAYS.contains(&name) && rest.chars().next().is_some_and(is_digit));
        let starts_spaced = segment.chars().next().is_some_and(is_space);
        let glued = matches!(separator, ";" | "|" | "||" | "&&") && !starts_spaced;
        if separator == "&" && !strict && !starts_spaced && self.shelly.contains(name) {
            return true; // x&id, 1&ps aux: prose puts spaces around "&"
        }
        if matches!(separator, "&" | "(") || (strict && separator == ";") {
            return (distinctive && (alone || shellish))
                || (common && shellish)
                || (alone && self.alone.contains(name));
        }
        if MARKERS.contains(&name) && !strict {
            return true;
        }
        distinctive || alone || shellish || glued || self.alone.contains(name)
    }

    fn at_start(&self, name: &str, rest: &str, distinctive: bool) -> bool {
        if rest.is_empty() {
            return self.alone_at_start.contains(name);
        }
        let rest = noise_removed(rest); // /e't'c/pa\sswd
        if self.shells.contains(name) && self.shell_flag.is_match(&rest) {
            return true;
        }
        if let Some((_, flag)) = INTERPRETERS.iter().find(|(known, _)| *known == name) {
            let mut chars = rest.chars();
            if chars.next() == Some('-') && chars.next() == Some(*flag) && chars.next().is_some_and(is_space)
            {
                return true;
            }
        }
        if self.system_path.is_match(&rest) || (self.network.contains(name) && self.remote.is_match(&rest)) {
            return true;
        }
        distinctive
            && self.flag.is_match(&rest)
            && !matches!(name, "python" | "perl" | "ruby" | "php" | "node")
    }
}

fn noise_removed(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\\' | '\'' | '"' | '^'))
        .collect()
}

/// The text split at the places a shell starts a command: text, separator, text, ... (as
/// Python's `re.split` with the separator captured).
fn split(text: &str, strict: bool) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut piece_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        let next_is_text = || {
            text.get(i + 1..)
                .and_then(|after| after.chars().next())
                .is_some_and(|c| !is_space(c))
        };
        let length = if rest.starts_with(b"||") || rest.starts_with(b"&&") {
            2
        } else if rest.starts_with(b"$((") {
            3
        } else if rest.starts_with(b"$(") || rest.starts_with(b"<(") || rest.starts_with(b">(") {
            2
        } else {
            match rest.first() {
                Some(b'|' | b'\n' | b'\r' | b'`') => 1,
                Some(b';' | b'&') if !strict => 1,
                Some(b')' | b'(') if !strict => 1,
                Some(b';' | b'&') if strict && next_is_text() => 1,
                _ => 0,
            }
        };
        if length == 0 {
            i += 1;
            continue;
        }
        out.push(text.get(piece_start..i).unwrap_or_default());
        out.push(text.get(i..i + length).unwrap_or_default());
        i += length;
        piece_start = i;
    }
    out.push(text.get(piece_start..).unwrap_or_default());
    out
}
