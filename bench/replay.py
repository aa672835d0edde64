"""Benchmark ``stockade replay``: events a second through the whole ladder.

One run writes a combined access log of ``--lines`` requests (about 2,000 clients browsing
a shop, one request in 50 a probe that detection flags, a few 404s that feed the response
rules) and a configuration with configuration (b)'s checks of ``bench/proxy.py``: a lockout
directory, 100 mod_block rules that match none of the requests, a 100,000-entry blocklist
and the built-in detection rules. It then times, best of ``--repeats``:

- **replay**: ``stockade replay -c stockade.toml access.log`` into ``/dev/null`` (the
  command as a user runs it: start-up, reading, every check, one JSON line out per event);
- **baseline**: the same interpreter reading the same log, matching each line with a
  combined-log regular expression and writing one JSON line per line: the least any
  replay in Python must do for an event, so the ratio says how much the checks add.

Usage::

    .venv/bin/python bench/replay.py                 # 200,000 lines
    .venv/bin/python bench/replay.py --lines 20000   # a quick look

The last line of the output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from proxy import write_checks_files  # noqa: E402

CONFIG = """
[server]
listen = []

[store]
url = "memory://"

[[directory]]
path = "/admin"
auth_user_file = "users.htpasswd"
max_retries = 5

[block]
rules = "block_rules.data"
ip_blocklist = "ip_blocklist.data"
watch = false

[block.hosts]
default_product = "web"

[bans]
malicious_req_threshold = 5
block_duration = 600
"""

PAGES = ["/", "/shop/", "/shop/item/{n}", "/search?q=shoes+{n}", "/cart", "/static/app.{n}.js", "/img/p{n}.jpg"]
PROBES = ["/.env", "/wp-login.php", "/.git/config", "/index.php?id=1%27%20union%20select%201,2--"]
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

BASELINE = r"""
import json, re, sys
combined = re.compile(
    r'^(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: (?P<proto>HTTP/[\d.]+))?" '
    r'(?P<status>\d{3}) \S+(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?'
)
out = sys.stdout
with open(sys.argv[1], encoding="utf-8") as lines:
    for line in lines:
        found = combined.match(line)
        out.write(json.dumps({"ip": found["ip"], "path": found["target"], "status": found["status"]}) + "\n")
"""


def write_log(path: Path, lines: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = 1_800_000_000
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            client = f"198.51.{rng.randrange(8)}.{rng.randrange(1, 255)}"
            if rng.random() < 0.02:
                target, status = rng.choice(PROBES), 404
            else:
                target = rng.choice(PAGES).format(n=rng.randrange(500))
                status = 404 if rng.random() < 0.01 else 200
            moment = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(start + i // 50))
            out.write(f'{client} - - [{moment}] "GET {target} HTTP/1.1" {status} 512 "-" "{AGENT}"\n')


def timed(command: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-python", action="store_true", help="do not time --no-fast (slow: every line in Python)")
    args = parser.parse_args()
    python = sys.executable
    stockade = str(Path(python).with_name("stockade"))
    with tempfile.TemporaryDirectory(prefix="stockade-bench-replay-") as name:
        directory = Path(name)
        write_checks_files(directory)
        (directory / "stockade.toml").write_text(CONFIG)
        log = directory / "access.log"
        write_log(log, args.lines)
        (directory / "baseline.py").write_text(BASELINE)
        (directory / "short.log").write_text("".join(log.open().readlines()[:100]))
        command = [stockade, "replay", "-c", "stockade.toml", "--no-progress"]
        replay, python_only, baseline, start = [], [], [], []
        for _ in range(args.repeats):
            baseline.append(timed([python, "baseline.py", str(log)], directory))
            replay.append(timed([*command, str(log)], directory))
            if not args.skip_python:
                python_only.append(timed([*command, "--no-fast", str(log)], directory))
            start.append(timed([*command, "short.log"], directory))
    best_replay, best_baseline, best_start = min(replay), min(baseline), min(start)
    figures = {
        "lines": args.lines,
        "replay_s": round(best_replay, 3),
        "replay_events_per_s": round(args.lines / best_replay),
        "baseline_s": round(best_baseline, 3),
        "baseline_events_per_s": round(args.lines / best_baseline),
        "replay_over_baseline": round(best_replay / best_baseline, 2),
        "start_s": round(best_start, 3),
        "replay_beyond_start_events_per_s": round(args.lines / max(best_replay - best_start, 1e-9)),
        "load_average": os.getloadavg()[0],
    }
    if python_only:
        figures["python_only_s"] = round(min(python_only), 3)
        figures["python_only_events_per_s"] = round(args.lines / min(python_only))
    rate = figures["replay_events_per_s"]
    print(f"stockade replay: {rate:,} events/s ({best_replay:.2f} s for {args.lines:,} lines)")
    print(f"baseline (read, match, write JSON): {figures['baseline_events_per_s']:,} events/s")
    print(f"replay takes {figures['replay_over_baseline']} times the baseline's time")
    beyond = figures["replay_beyond_start_events_per_s"]
    print(f"start-up (a 100-line log): {best_start:.2f} s; beyond it {beyond:,} events/s")
    if python_only:
        print(f"stockade replay --no-fast (every line in Python): {figures['python_only_events_per_s']:,} events/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
