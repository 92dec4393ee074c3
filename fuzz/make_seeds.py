#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/: a few small valid inputs per target.

Each decoder target's input starts with an option byte (nats/mqtt: the size limit, 20 = 1 MiB;
http: which responses answer HEAD; amqp: frame-max 4096 << (byte % 9) and the frame at which a
callback stops, byte / 9 % 8) and a split header (harness.hpp): a count byte, then that many
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


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def method(channel, class_id, method_id, args=b""):
    return frame(1, channel, struct.pack(">HH", class_id, method_id) + args)


def content_header(channel, size, flags=b"\x00\x00"):
    return frame(2, channel, struct.pack(">HHQ", 60, 0, size) + flags)


def short(text):
    return bytes([len(text)]) + text


def long(data):
    return struct.pack(">I", len(data)) + data


def table(*entries):
    return long(b"".join(entries))


def text_field(key, value):
    return short(key) + b"S" + long(value)


def flag_field(key, value):
    return short(key) + b"t" + bytes([value])


def table_field(key, *entries):
    return short(key) + b"F" + table(*entries)


SERVER_PROPERTIES = table(
    table_field(
        b"capabilities", flag_field(b"publisher_confirms", 1),
        flag_field(b"exchange_exchange_bindings", 1), flag_field(b"basic.nack", 1),
        flag_field(b"consumer_cancel_notify", 1), flag_field(b"connection.blocked", 1),
        flag_field(b"authentication_failure_close", 1)),
    text_field(b"cluster_name", b"rabbit@lt"), text_field(b"product", b"RabbitMQ"),
    text_field(b"version", b"3.10.8"), text_field(b"platform", b"Erlang/OTP 25.2.3"))

# What RabbitMQ sends a publisher in confirm mode and a consumer, in one stream.
AMQP_SERVER = (
    method(0, 10, 10, b"\x00\x09" + SERVER_PROPERTIES + long(b"AMQPLAIN PLAIN") +
           long(b"en_US")) +
    method(0, 10, 30, struct.pack(">HIH", 2047, 131072, 60)) +
    method(0, 10, 41, short(b"")) +
    method(1, 20, 11, long(b"")) +
    method(1, 85, 11) +
    method(1, 60, 80, struct.pack(">QB", 1, 0)) +
    method(1, 60, 50, struct.pack(">H", 312) + short(b"NO_ROUTE") + short(b"lt") +
           short(b"lt.dev.0")) +
    content_header(1, 5, b"\x10\x00\x02") + frame(3, 1, b"hello") +
    method(1, 60, 60, short(b"lt-0-0") + struct.pack(">QB", 7, 0) + short(b"amq.topic") +
           short(b"lt.dev.1")) +
    content_header(1, 4200) + frame(3, 1, b"\x00" * 4088) + frame(3, 1, b"\x00" * 112) +
    frame(8, 0, b"") +
    method(0, 10, 50, struct.pack(">H", 320) +
           short(b"CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'") +
           struct.pack(">HH", 0, 0)))

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
    "amqp_reader_fuzz": {
        "server": bytes([5 + 9 * 7]) + split(3, 9, 200) + AMQP_SERVER,
        "small_frames": bytes([0 + 9 * 3]) + split() +
        method(1, 85, 11) + method(1, 60, 80, struct.pack(">QB", 9, 1)) +
        method(1, 60, 120, struct.pack(">QB", 10, 3)) + method(0, 10, 60, short(b"low on memory")) +
        method(0, 10, 61) + method(1, 20, 20, b"\x00") +
        method(1, 20, 40, struct.pack(">H", 404) + short(b"NOT_FOUND") +
               struct.pack(">HH", 50, 10)),
        "broker_header": bytes([5]) + split(2) + b"AMQP\x00\x00\x09\x01",
        "amqp10_header": bytes([5]) + split() + b"AMQP\x03\x01\x00\x00",
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
