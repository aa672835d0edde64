"""OWASP CRS (ModSecurity) on the same detection corpus as bench/detection.py, request by request.

python bench/detection_crs.py --corpus DIR                  # CRS at paranoia level 1
python bench/detection_crs.py --corpus DIR --paranoia 2
python bench/detection_crs.py --corpus DIR --statuses FILE  # each request's answer, for comparisons

Runs nginx with libmodsecurity3 and the CRS the system has installed (Debian: nginx,
libnginx-mod-http-modsecurity, modsecurity-crs), blocking mode, the inbound anomaly
threshold left at CRS's default (5), in front of a static file; sends every request of the
corpus as it stands (method, path and query, headers, body) over its own connection and
counts it flagged when ModSecurity answers 403. The same split as bench/detection.py (tuning
half, held-out half), so the two columns compare like for like. A request nginx itself
refuses (400) counts as not flagged, as bench/detection.py counts the 400s of stockade's
server. Nothing of this is stockade: it measures the detector people use today on our corpus.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection import Cell, load  # the bench folder is not a package

MODULE = Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so")
BASE_CONF = Path("/etc/nginx/modsecurity.conf")
UNICODE_MAP = Path("/etc/nginx/unicode.mapping")
CRS_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")
CRS_RULES = Path("/usr/share/modsecurity-crs/rules")


def write_config(folder: Path, port: int, paranoia: int) -> Path:
    base = BASE_CONF.read_text(encoding="utf-8")
    base = base.replace("SecRuleEngine DetectionOnly", "SecRuleEngine On")
    base = base.replace("SecResponseBodyAccess On", "SecResponseBodyAccess Off")
    base = base.replace("SecAuditEngine RelevantOnly", "SecAuditEngine Off")
    base = base.replace("SecAuditLog /var/log/nginx/modsec_audit.log", f"SecAuditLog {folder}/audit.log")
    base = base.replace("SecTmpDir /tmp/", f"SecTmpDir {folder}/").replace("SecDataDir /tmp/", f"SecDataDir {folder}/")
    shutil.copy(UNICODE_MAP, folder / "unicode.mapping")
    (folder / "main.conf").write_text(
        base
        + f"\nInclude {CRS_SETUP}\n"
        + f'SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={paranoia}"\n'
        + f"Include {CRS_RULES}/*.conf\n",
        encoding="utf-8",
    )
    (folder / "www").mkdir()
    (folder / "www" / "ok.txt").write_text("ok\n", encoding="utf-8")
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""
load_module {MODULE};
worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    large_client_header_buffers 4 64k;
    client_max_body_size 16m;
    server {{
        listen 127.0.0.1:{port};
        modsecurity on;
        modsecurity_rules_file {folder}/main.conf;
        root {folder}/www;
        location / {{ try_files /ok.txt =404; }}
    }}
}}
""",
        encoding="utf-8",
    )
    return conf


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"nginx exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("nginx did not start listening within 60 s")


def raw_request(record: dict[str, Any]) -> bytes:
    body = record.get("body")
    data = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else b""
    lines = [f"{record.get('method', 'GET')} {record['uri']} HTTP/1.1", "Host: www.example.com"]
    for name, value in (record.get("headers") or {}).items():
        if name.lower() not in ("host", "content-length", "connection", "transfer-encoding"):
            lines.append(f"{name}: {value}")
    if data or record.get("method", "GET") in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(data)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + data


def status_of(port: int, payload: bytes) -> int:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(payload)
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
    except OSError:
        return 0
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=os.environ.get("STOCKADE_DETECTION_CORPUS"))
    parser.add_argument("--paranoia", type=int, default=1, choices=(1, 2, 3, 4))
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--statuses", type=Path, help="write each request's status, one a line, in corpus order")
    args = parser.parse_args(argv)
    if args.corpus is None or not Path(args.corpus).is_dir():
        parser.error("--corpus DIR: the external corpus (bench/corpus_build.py)")
    missing = [str(path) for path in (MODULE, BASE_CONF, CRS_SETUP, CRS_RULES) if not path.exists()]
    if missing or shutil.which("nginx") is None:
        print(f"skipped: nginx with ModSecurity and CRS not installed ({', '.join(missing) or 'nginx'})")
        return 0
    with tempfile.TemporaryDirectory(prefix="crs-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        conf = write_config(folder, port, args.paranoia)
        process = subprocess.Popen(
            ["nginx", "-p", str(folder), "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE
        )
        try:
            wait_for(port, process)
            records = [
                (kind, name, held, raw_request(record))
                for kind in ("attacks", "benign")
                for name, held, record in load(Path(args.corpus) / kind)
            ]
            started = time.perf_counter()
            with ThreadPoolExecutor(args.workers) as pool:
                statuses = list(pool.map(lambda item: status_of(port, item[3]), records))
            elapsed = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGQUIT)
            process.wait(timeout=30)
    if args.statuses is not None:
        args.statuses.write_text("".join(f"{status}\n" for status in statuses), encoding="utf-8")
    results: dict[tuple[str, str], list[Cell]] = {}
    others: dict[int, int] = {}
    for (kind, name, held, _), status in zip(records, statuses, strict=True):
        cell = results.setdefault((kind, name), [[0, 0], [0, 0]])[held]
        cell[0] += status == 403
        cell[1] += 1
        if status not in (200, 403, 404, 405):
            others[status] = others.get(status, 0) + 1
    print(f"== OWASP CRS, paranoia level {args.paranoia} (ModSecurity in nginx), {args.corpus}")
    for kind, title in (("attacks", "attacks (recall)"), ("benign", "ordinary (flagged)")):
        print(f"{title:<28} {'tune':>8} {'held-out':>9} {'n':>6}")
        totals: list[Cell] = [[0, 0], [0, 0]]
        for (k, name), cells in sorted(results.items()):
            if k != kind:
                continue
            print(f"{name:<28} {_pct(cells[0]):>8} {_pct(cells[1]):>9} {cells[0][1] + cells[1][1]:>6}")
            for total, part in zip(totals, cells, strict=True):
                total[0] += part[0]
                total[1] += part[1]
        label = "all attacks" if kind == "attacks" else "all ordinary"
        print(f"{label:<28} {_pct(totals[0], 2):>8} {_pct(totals[1], 2):>9} {totals[0][1] + totals[1][1]:>6}\n")
    print("other answers (not counted as flagged): " + ", ".join(f"{k}: {v}" for k, v in sorted(others.items())))
    print(f"{len(records)} requests in {elapsed:.1f} s")
    return 0


def _pct(cell: Cell, digits: int = 1) -> str:
    return f"{100.0 * cell[0] / cell[1]:.{digits}f}%" if cell[1] else "-"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
