#!/usr/bin/env python3
"""Fails if the pure modules (rules/, devices/) include I/O, network or storage
headers: Paho, RocksDB, prometheus-cpp, HTTP libraries, sockets, threads or
file streams. Those belong in gateway/ adapters (DESIGN.md, "Layout")."""
import pathlib
import re
import sys

FORBIDDEN = [
    r"mqtt/", r"MQTTAsync", r"MQTTClient", r"paho",        # Paho
    r"rocksdb/",                                            # RocksDB
    r"prometheus/",                                         # prometheus-cpp
    r"httplib", r"boost/beast", r"curl/",                   # HTTP
    r"sys/socket", r"netinet/", r"arpa/inet",               # sockets
    r"<thread>", r"<fstream>", r"<filesystem>",             # threads, files
    r"gateway/",                                            # inward arrows only
]
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    bad = []
    checked = 0
    for module in ("rules", "devices"):
        for path in sorted((root / module).rglob("*")):
            if path.suffix not in (".h", ".cc") or "simulator" in path.parts:
                continue
            checked += 1
            for match in INCLUDE.finditer(path.read_text()):
                header = match.group(1)
                full = match.group(0)
                for pattern in FORBIDDEN:
                    if re.search(pattern, full if pattern.startswith("<") else header):
                        line = path.read_text()[: match.start()].count("\n") + 1
                        bad.append(f"{path.relative_to(root)}:{line}: includes {header}")
    if checked == 0:
        print("layering: no sources found under rules/ or devices/")
        return 1
    for b in bad:
        print(b)
    print(f"layering: {checked} files checked, {len(bad)} forbidden includes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
