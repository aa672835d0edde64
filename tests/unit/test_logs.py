"""The command's log: one line per record, text with time, level, logger and process, or JSON lines."""

from __future__ import annotations

import io
import json
import logging
import os
import re

from stockade.logs import configure_logging

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<logger>[\w.]+)\[(?P<pid>\d+)\]: "
)

# tests/conftest.py restores the logging configuration after each test.


def test_text_lines_carry_time_level_logger_and_process() -> None:
    out = io.StringIO()
    configure_logging("info", "text", out)
    logging.getLogger("stockade.server").info("reloaded %s", "/etc/stockade.toml")
    logging.getLogger("stockade.server").debug("not at info")
    line = out.getvalue()
    match = TEXT_LINE.match(line)
    assert match is not None, line
    assert (match["level"], match["logger"], int(match["pid"])) == ("INFO", "stockade.server", os.getpid())
    assert line[match.end() :] == "reloaded /etc/stockade.toml\n"


def test_json_lines_carry_the_extra_fields() -> None:
    out = io.StringIO()
    configure_logging("debug", "json", out)
    logging.getLogger("stockade.server").error(
        "reload error: %s",
        "rules.data:3:7: no Cond",
        extra={"event": "reload_error", "error": "rules.data:3:7: no Cond"},
    )
    record = json.loads(out.getvalue())
    assert set(record) == {"time", "level", "logger", "pid", "message", "event", "error"}
    assert (record["level"], record["logger"], record["pid"]) == ("error", "stockade.server", os.getpid())
    assert record["message"] == "reload error: rules.data:3:7: no Cond"
    assert (record["event"], record["error"]) == ("reload_error", "rules.data:3:7: no Cond")


def test_other_libraries_log_from_warning_up_and_configuring_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "text", first)
    configure_logging("info", "json", second)
    logging.getLogger("watchfiles.main").info("1 change detected")
    logging.getLogger("watchfiles.main").warning("a warning")
    logging.getLogger("stockade.server").info("an info")
    assert first.getvalue() == ""
    assert [json.loads(line)["message"] for line in second.getvalue().splitlines()] == ["a warning", "an info"]


def test_an_exception_keeps_its_traceback() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("stockade.server").exception("failed")
    assert "ValueError: boom" in json.loads(out.getvalue())["exception"]
