#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/: a few small valid inputs per target.

Each decoder target's input starts with an option byte (nats/mqtt: the size limit, 20 = 1 MiB;
http: which responses answer HEAD; amqp: frame-max 4096 << (byte % 9) and the frame at which a
callback stops, byte / 9 % 8) and a split header (harness.hpp): a count byte, then that many
piece sizes; request_parser_fuzz, wire_header_fuzz and echo_reader_fuzz have the split header
only. options_fuzz takes command-line words separated by newlines. compare_fuzz takes a result
file's bytes, or 0xff and then edits of its own reference file (compare_fuzz.cpp). Run it again after changing
the seeds; the files are kept in the repository.
"""
import json
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


def argv(*words):
    return b"\n".join(words)


def wire(device, seq, intended, payload=64, sent=0):
    return struct.pack("<IIQqq", payload, device, seq, intended, sent) + bytes(payload - 32)


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

# From a real run (load-tester --devices 2 --msg 5 --duration 1s --rank 1 --size 2 --json):
# its latency histogram's encoding and the whole result file.
HISTOGRAM = b"HISTFAAAADF4nJNpmSzMwMDAzwABzFCaEch0M9ixgMH+A0Rg4QRGpu2sTKeZmJKZHloyAQC2gwic"
RANK_RESULT = (
    b'{"counters":{"blocked":0,"bytes_received":0,"bytes_sent":320,"completed":5,"connects":1,"d'
    b'isconnects":0,"duplicates":0,"e2e_duplicates":0,"e2e_received":0,"err_broker":0,"err_close'
    b'd":0,"err_connect_timeout":0,"err_malformed":0,"err_no_responders":0,"err_refused":0,"err_'
    b'rejected":0,"err_reset":0,"err_returned":0,"err_send":0,"err_timeout":0,"err_tls":0,"err_u'
    b'nreachable":0,"late_replies":0,"lost":0,"missed":0,"reconnects":0,"req_timeouts":0,"retrie'
    b's":0,"sent":5,"status_2xx":0,"status_3xx":0,"status_4xx":0,"status_5xx":0,"writes":5},"err'
    b'or_codes":{},"format":1,"histograms":{"connect":{"count":1,"hdr":"HISTFAAAACV4nJNpmSzMwMDA'
    b'wgABzFCaEch0M9ixgMH+A0Rgbz8jEwBkngWe","max":258047,"mean":257984.0,"min":257920,"percentil'
    b'es":{"p50":258047,"p90":258047,"p95":258047,"p99":258047,"p99.9":258047,"p99.99":258047},"'
    b'stddev":0.0,"unit":"ns"},"e2e":{"count":0,"hdr":"HISTFAAAACF4nJNpmSzMwMDAyAABzFAayGd2M9ixg'
    b'MH+A1QEAFKmBEw=","max":0,"mean":0.0,"min":0,"percentiles":{"p50":0,"p90":0,"p95":0,"p99":0'
    b',"p99.9":0,"p99.99":0},"stddev":0.0,"unit":"ns"},"latency":{"count":5,"hdr":"HISTFAAAADF4n'
    b'JNpmSzMwMDAzwABzFCaEch0M9ixgMH+A0Rg4QRGpu2sTKeZmJKZHloyAQC2gwic","max":4960255,"mean":1278'
    b'259.2,"min":266496,"percentiles":{"p50":398847,"p90":4960255,"p95":4960255,"p99":4960255,"'
    b'p99.9":4960255,"p99.99":4960255},"stddev":1840675.546983596,"unit":"ns"},"lateness":{"coun'
    b't":5,"hdr":"HISTFAAAADB4nJNpmSzMwMDAzwABzFCaEch0M9ixgMH+A0TgbBsj01sOpt2MTMVM1x2YALq0CPM=",'
    b'"max":4878335,"mean":1178188.8,"min":185216,"percentiles":{"p50":278271,"p90":4878335,"p95'
    b'":4878335,"p99":4878335,"p99.9":4878335,"p99.99":4878335},"stddev":1849420.628932899,"unit'
    b'":"ns"},"service":{"count":5,"hdr":"HISTFAAAAC54nJNpmSzMwMDAywABzFCaEch0M9ixgMH+A0TgbTFTNN'
    b'NKZqZmViZzJgCmAweI","max":120639,"mean":100640.0,"min":81344,"percentiles":{"p50":98111,"p'
    b'90":120639,"p95":120639,"p99":120639,"p99.9":120639,"p99.99":120639},"stddev":16544.959353'
    b'229006,"unit":"ns"},"tls_handshake":{"count":0,"hdr":"HISTFAAAACF4nJNpmSzMwMDAyAABzFAayGd2'
    b'M9ixgMH+A1QEAFKmBEw=","max":0,"mean":0.0,"min":0,"percentiles":{"p50":0,"p90":0,"p95":0,"p'
    b'99":0,"p99.9":0,"p99.99":0},"stddev":0.0,"unit":"ns"}},"intervals":[{"connected":1,"counte'
    b'rs":{"blocked":0,"bytes_received":0,"bytes_sent":320,"completed":5,"connects":1,"disconnec'
    b'ts":0,"duplicates":0,"e2e_duplicates":0,"e2e_received":0,"err_broker":0,"err_closed":0,"er'
    b'r_connect_timeout":0,"err_malformed":0,"err_no_responders":0,"err_refused":0,"err_rejected'
    b'":0,"err_reset":0,"err_returned":0,"err_send":0,"err_timeout":0,"err_tls":0,"err_unreachab'
    b'le":0,"late_replies":0,"lost":0,"missed":0,"reconnects":0,"req_timeouts":0,"retries":0,"se'
    b'nt":5,"status_2xx":0,"status_3xx":0,"status_4xx":0,"status_5xx":0,"writes":5},"index":0,"l'
    b'atency_hdr":"HISTFAAAADF4nJNpmSzMwMDAzwABzFCaEch0M9ixgMH+A0Rg4QRGpu2sTKeZmJKZHloyAQC2gwic"'
    b',"latency_max_ns":4960255,"latency_p50_ns":398847,"latency_p99_ns":4960255,"lateness_p99_n'
    b's":4878335,"length_ns":1000000000,"start_ns":0},{"connected":0,"counters":{"blocked":0,"by'
    b'tes_received":0,"bytes_sent":0,"completed":0,"connects":0,"disconnects":0,"duplicates":0,"'
    b'e2e_duplicates":0,"e2e_received":0,"err_broker":0,"err_closed":0,"err_connect_timeout":0,"'
    b'err_malformed":0,"err_no_responders":0,"err_refused":0,"err_rejected":0,"err_reset":0,"err'
    b'_returned":0,"err_send":0,"err_timeout":0,"err_tls":0,"err_unreachable":0,"late_replies":0'
    b',"lost":0,"missed":0,"reconnects":0,"req_timeouts":0,"retries":0,"sent":0,"status_2xx":0,"'
    b'status_3xx":0,"status_4xx":0,"status_5xx":0,"writes":0},"index":1,"latency_hdr":"HISTFAAAA'
    b'CF4nJNpmSzMwMDAyAABzFAayGd2M9ixgMH+A1QEAFKmBEw=","latency_max_ns":0,"latency_p50_ns":0,"la'
    b'tency_p99_ns":0,"lateness_p99_ns":0,"length_ns":0,"start_ns":1000000000}],"options":{"arri'
    b'val":"constant","backlog":64,"closed_loop":false,"connect_rate":null,"devices":2,"duration'
    b'_ns":1000000000,"echo":false,"hostname":"127.0.0.1","inflight":1024,"msg_per_device":5.0,"'
    b'payload":64,"port":43567,"precise":false,"rate":10.0,"sink":"tcp","source_ips":[],"threads'
    b'":1,"timeout_ns":1000000000,"tls":false,"tls_verify":false,"update_ns":1000000000},"rate":'
    b'{"achieved":4.999161010804201,"closed_loop":false,"target":5.0},"run":{"connect":{"achieve'
    b'd_rate":0.0,"established":1,"span_ns":0,"target_rate":null},"connect_phase_ns":6207901,"co'
    b'nnected_at_start":1,"cpu_seconds":0.015325,"devices":1,"elapsed_ns":1000167826,"interrupte'
    b'd":false,"max_rss_kib":13516,"placement":"--rank","rank":1,"rss_before_devices_kib":8572,"'
    b'rss_connected_kib":10336,"size":2,"start_at_unix_ns":null,"start_late_ns":0,"start_unix_ns'
    b'":1795930229422239778,"target":"127.0.0.1:43567","workers":1},"tool":"load-tester","versio'
    b'n":"0.1.0"}')


def result_variant(edit):
    """RANK_RESULT with edit(doc) applied, written as the tool writes it (sorted, compact)."""
    doc = json.loads(RANK_RESULT)
    edit(doc)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def with_e2e(doc):
    doc["histograms"]["e2e"].update(count=5, max=6012927, mean=2278259.2, min=366496)
    doc["histograms"]["e2e"]["percentiles"] = {
        "p50": 498847, "p90": 6012927, "p95": 6012927, "p99": 6012927, "p99.9": 6012927,
        "p99.99": 6012927}


def interrupted_http(doc):
    doc["options"].update(sink="http", rate=None, closed_loop=True, devices=64)
    doc["run"].update(interrupted=True, start_unix_ns=None)
    doc["rate"].update(closed_loop=True, target=None)
    doc["counters"].update(err_timeout=3, err_reset=2, err_future_kind=1)


def missing_p99(doc):
    del doc["histograms"]["latency"]["percentiles"]["p99"]


def future_format(doc):
    doc["format"] = 2


def edits(*triples):
    """compare_fuzz's edit mode: 0xff, then (field, value, byte) triples (compare_fuzz.cpp)."""
    return b"\xff" + bytes(b for t in triples for b in t)


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
    # A histogram, a rank's whole result file, and --fail-if conditions.
    "results_fuzz": {
        "histogram": HISTOGRAM,
        "rank_result": RANK_RESULT,
        "relative": b"p99>+10%",
        "absolute": b"p99.9>=+2ms",
        "value": b"errors>0",
    },
    # compare's reading of a result file: a real one, variants, files that are not results,
    # and edits of the fuzzer's own reference (numbers at the edges of int64 and double).
    "compare_fuzz": {
        "rank_result": RANK_RESULT,
        "e2e": result_variant(with_e2e),
        "interrupted_http": result_variant(interrupted_http),
        "missing_p99": result_variant(missing_p99),
        "future_format": result_variant(future_format),
        "serve_json": b'{"bytes":320,"closed":1,"connections":1,"dropped":0,"echo":true,'
        b'"messages":5,"port":39681,"sink":"tcp"}',
        "not_json": b'{"tool":"load-tester",',
        "edit_counts": edits((1, 20, 0), (3, 29, 200), (6, 31, 150), (17, 6, 0)),
        "edit_header": edits((18, 16, 0), (19, 14, 0), (21, 18, 0), (22, 2, 0), (14, 12, 0)),
        "edit_remove": edits((9, 0, 0), (26, 8, 0), (14, 0, 0)),
    },
    # Command lines for each sink and for serve, as a user would type them.
    "options_fuzz": {
        "tcp": argv(b"--devices", b"3", b"--rate", b"1", b"--echo", b"--json", b"r{rank}.json",
                    b"--duration", b"90m"),
        "udp_go": argv(b"-msg", b"0.1", b"-payload", b"1KiB", b"-update", b"250ms", b"-arrival",
                       b"poisson", b"-precise", b"-timeout", b"1500us", b"-hostname", b"::1",
                       b"-sink", b"udp", b"-v", b"-source-ip", b"127.0.0.1-127.0.0.3"),
        "http": argv(b"--url", b"https://example.com:8443/a?b=1", b"--method", b"POST", b"--body",
                     b"x y", b"-H", b"X-A: 1", b"-H", b"Authorization: Bearer t", b"--pipeline",
                     b"3", b"--insecure", b"--rate", b"max", b"--devices", b"4"),
        "http_files": argv(b"run", b"--sink", b"http", b"--body-file", b"/dev/null",
                           b"--ca-file=/dev/null", b"--tls", b"--method", b"HEAD"),
        "mqtt": argv(b"--url", b"mqtts://b:8883", b"--qos", b"1", b"--topic", b"t/{device}/x y",
                     b"--retain", b"--persistent", b"--keepalive", b"30s", b"--username", b"u",
                     b"--subscribers", b"3", b"--mqtt-version", b"5", b"--devices", b"9"),
        "nats": argv(b"--url", b"tls://n:4333", b"--nats-mode", b"e2e", b"--subscribers", b"2",
                     b"--subject", b"s.{device}", b"-H", b"A: b c", b"--ping-interval", b"250ms",
                     b"--devices", b"4"),
        "amqp": argv(b"--url", b"amqps://bob@r:5999/v%2Fx", b"--exchange", b"ex", b"--routing-key",
                     b"k.{device}", b"--queue", b"q {device}", b"--declare", b"--exchange-type",
                     b"topic", b"--durable", b"--mandatory", b"--confirm", b"off", b"--heartbeat",
                     b"0", b"--consumers", b"2", b"--devices", b"4"),
        "kafka": argv(b"--sink", b"kafka", b"--brokers", b"a:1,[::1]:2", b"--topic", b"t.{rank}",
                      b"--key", b"", b"--acks", b"-1", b"--producers", b"4", b"-X",
                      b"compression.type=lz4", b"--kafka-config", b"/dev/null", b"--consumers",
                      b"1", b"--threads", b"1"),
        "ranks": argv(b"--devices", b"10", b"--rank", b"1", b"--size", b"4", b"--start-at",
                      b"2026-11-29T06:00:00.5+01:00", b"--hdr-log", b"h{rank}.log",
                      b"--connect-rate", b"2.5k", b"--connect-timeout", b"3s"),
        "serve": argv(b"serve", b"-sink", b"udp", b"-echo", b"-delay", b"1ms..2500us", b"-stall",
                      b"1s", b"-stall-every", b"10s", b"-drop", b"0.25", b"-seed", b"3",
                      b"-port", b"0", b"-json="),
        "serve_http": argv(b"serve", b"--sink=http", b"--bind", b"::", b"--delay", b"2ms", b"-q"),
        "help": argv(b"-h"),
        "version": argv(b"--version"),
        "template": b"lt/{rank}/{device}/{{literal}}",
    },
    "request_parser_fuzz": {
        "get": split(7, 30) + b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
        b"Accept: */*\r\n\r\n",
        "pipeline": split(5, 11) + b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello"
        b"HEAD /c HTTP/1.1\r\nHost: h\r\n\r\n"
        b"GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /e HTTP/1.1\r\n\r\n",
        "chunked": split(3) + b"PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked"
        b"\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n"
        b"\r\nDELETE * HTTP/1.1\r\nHost: h\r\n\r\n",
        "http10": split() + b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        b"OPTIONS * HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "smuggle": split(40) + b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    },
    # Frames as the tcp sink writes them (u32 length, u32 device, u64 seq, i64 intended, i64
    # sent), one after another as a connection carries them.
    "wire_header_fuzz": {
        "frames": split(5, 32, 60) + wire(0, 1, 1_000_000) + wire(0, 2, 2_000_000, 32) +
        wire(7, 3, 3_000_000, 100, 3_000_500),
        "devices": split() + wire(1 << 20, 9, -5, 40) + wire(1048575, 1, 0) + wire(3, 1, 0),
        "bad_length": split(4) + struct.pack("<I", 31) + wire(2, 1, 5) +
        struct.pack("<I", (16 << 20) + 1) + bytes(28),
    },
    # Echoed replies as a connection receives them: whole, cut inside a header and a payload,
    # ending in an unfinished frame, and garbage after good frames. Their last byte and the
    # first's top bits choose where the stream is also cut in two.
    "echo_reader_fuzz": {
        "replies": split(40, 7, 100) + wire(3, 1, 1_000, 64, 1_200) + wire(3, 2, 2_000, 32) +
        wire(3, 3, 3_000, 200, 3_100),
        "unfinished": bytes([1 | 5 << 3, 20]) + wire(0, 7, 70) + wire(0, 8, 80, 100)[:50],
        "header_cut": split() + wire(9, 1, 5, 48) + wire(9, 2, 6)[:17],
        "garbage": split(33) + wire(1, 1, 1) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(8),
        "bad_length": split(16) + wire(2, 4, 9) + struct.pack("<I", 31) + bytes(28) +
        wire(2, 5, 10),
        "big": split(200, 255) + wire(4, 1, 1, 3_000) + wire(4, 2, 2, 33),
    },
}

for target, seeds in SEEDS.items():
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (d / name).write_bytes(data)
