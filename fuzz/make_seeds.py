#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/: a few small valid inputs per target.

Each decoder target's input starts with an option byte (nats/mqtt: the size limit, 20 = 1 MiB;
http: which responses answer HEAD) and a split header (harness.hpp): a count byte, then that many
piece sizes. Run it again after changing the seeds; the files are kept in the repository.
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def split(*sizes):
    return bytes([len(sizes)] + [s - 1 for s in sizes])


def mqtt(first, body):
    n, length = len(body), b""
    while True:
        n, digit = n >> 7, n & 0x7F
        length += bytes([digit | (0x80 if n else 0)])
        if not n:
            return bytes([first]) + length + body


def hmsg(args, fields, payload, status=b""):
    headers = b"NATS/1.0" + status + b"\r\n" + fields + b"\r\n"
    sizes = b" %d %d\r\n" % (len(headers), len(headers) + len(payload))
    return b"HMSG " + args + sizes + headers + payload + b"\r\n"


def s16(text):
    return struct.pack(">H", len(text)) + text


INFO = (b'INFO {"server_id":"NDX4CQ7OSFBKXH2TPEW2ZXMPOQ3XVYL5GTVT2RPTCD2KEQ4ZBSLLDHEW",'
        b'"server_name":"n1","version":"2.9.10","proto":1,"go":"go1.19.8","host":"0.0.0.0",'
        b'"port":4222,"headers":true,"max_payload":1048576,"client_id":5,'
        b'"client_ip":"127.0.0.1"} \r\n')

SEEDS = {
    "nats_reader_fuzz": {
        "info_msg": bytes([20]) + split(7, 30, 2) + INFO +
        b"+OK\r\nPING\r\nMSG lt.dev.0 1 5\r\nhello\r\nPONG\r\n",
        "hmsg": bytes([20]) + split(3) + hmsg(b"lt.reply 2 _INBOX.a.1", b"Lt-Seq: 7\r\n", b"hi") +
        hmsg(b"_INBOX.a.2 9", b"", b"", b" 503"),
        "err": bytes([10]) + split() + b"MSG a 1 r 0\r\n\r\n-ERR 'Authorization Violation'\r\n",
        "subject": b"lt.dev.*.>",
    },
    "mqtt_splitter_fuzz": {
        "v311": bytes([20]) + split(3, 9) + mqtt(0x20, b"\x00\x00") +
        mqtt(0x30, s16(b"lt/0") + b"hello") + mqtt(0x90, b"\x00\x01\x01") +
        mqtt(0x40, b"\x00\x01") + mqtt(0xD0, b""),
        "v5": bytes([20]) + split(5) + mqtt(0x20, b"\x01\x00\x0f\x21\x00\x0a\x27\x00\x01\x00\x00"
                                       b"\x24\x01\x25\x01\x13\x00\x3c") +
        mqtt(0x32, s16(b"lt/1") + b"\x00\x07\x00" + b"x" * 40) + mqtt(0x40, b"\x00\x07\x10") +
        mqtt(0x50, b"\x00\x08") + mqtt(0x70, b"\x00\x08\x00\x00") +
        mqtt(0x90, b"\x00\x02\x00\x01\x80") + mqtt(0xE0, b"\x8b"),
    },
    "http_response_fuzz": {
        "chunked": bytes([0]) + split(4, 17) +
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: lt\r\n\r\n"
        b"5;x=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n",
        "pipeline": bytes([0x02]) + split(9) +
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
        b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n"
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nz"
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the close",
    },
    "url_fuzz": {
        "http": b"http://127.0.0.1:8080/api/v1?x=1#top",
        "https6": b"https://[::1]:8443/",
        "mqtts": b"mqtts://broker.example",
        "nats": b"nats://localhost:4222",
        "duration": b"1h30m15.5s",
        "micro": b"250\xc2\xb5s",
        "rate": b"0.125",
        "rate_si": b"1.5M",
        "size": b"64KiB",
        "count": b"10k",
    },
}

for target, seeds in SEEDS.items():
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (d / name).write_bytes(data)
