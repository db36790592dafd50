# End-to-end tests of tvm-tune-rpc: the real server binary on loopback (port 0: it prints the port
# it chose as its first line, so nothing waits on a clock), driven by the Python client
# (tvm_tune.rpc) and by raw sockets that play peers without the key, garbage, truncated and
# oversized frames and a newer protocol. Every server is stopped in tearDown/finally, even when a
# check fails. test_rpc_aarch64.sh runs the same tests with SERVER = scripts/run-aarch64-server.sh
# (the aarch64 server under qemu) and a kernel library cross-compiled for it; TT_RPC_TRIPLE then
# names the triple device_info must report, TT_RPC_QEMU=1 allows for qemu's slowness.
#   usage: python3 test_rpc_server.py SERVER KERNEL_SO
import os
import shutil
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402
import tvm_tune as tt  # noqa: E402

SERVER = None
KERNELS = None
PREFIX = []  # a command the server runs under (none: the server scripts call qemu themselves)
TRIPLE = os.environ.get("TT_RPC_TRIPLE")
QEMU = bool(os.environ.get("TT_RPC_QEMU"))


# The protocol version of runtime/rpc/proto.h (TT_RPC_PROTOCOL_VERSION).
PROTOCOL = 2


def frame(ftype, payload, version=PROTOCOL):
    return b"TTRP" + struct.pack("<HHQ", version, ftype, len(payload)) + payload


def s32(b):
    return struct.pack("<I", len(b)) + b


def hello(version=PROTOCOL, runtime=b"0.1.0"):
    return frame(1, s32(runtime) + struct.pack("<Q", 3) + os.urandom(64), version)


def read_frame(sock):
    """(type, payload) of the next frame, or None at EOF."""
    hdr = b""
    while len(hdr) < 16:
        chunk = sock.recv(16 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    magic, _version, ftype, length = struct.unpack("<4sHHQ", hdr)
    assert magic == b"TTRP", hdr
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return ftype, body


def error_message(body):
    (n,) = struct.unpack("<I", body[:4])
    return body[4:4 + n].decode()


class Server:
    """A tvm-tune-rpc process; stop() ends it with SIGTERM and returns its stderr."""

    def __init__(self, key, work_dir, *extra):
        self.log_path = os.path.join(os.path.dirname(work_dir), "server-%d.log" % id(self))
        self.log = open(self.log_path, "wb")
        cmd = PREFIX + [SERVER, "--port", "0", "--key-file", key, "--work-dir", work_dir]
        self.proc = subprocess.Popen(cmd + list(extra), stdout=subprocess.PIPE, stderr=self.log,
                                     start_new_session=True)
        line = self.proc.stdout.readline().decode()  # the first line, printed once listening
        if not line.startswith("listening on "):
            self.stop()
            raise AssertionError("server did not start: %r\n%s" % (line, self.stderr()))
        self.port = int(line.strip().rsplit(":", 1)[1])

    def stderr(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


def session_pids(log):
    pids = set()
    for line in log.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[1] == "session" and parts[2].isdigit():
            pids.add(int(parts[2]))
    return pids


def live_in_groups(pgids):
    """Processes whose process group is one of pgids (a session's leftovers)."""
    left = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids and fields[0] != "Z":
            left.append(int(d))
    return left


class RPCTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tt_rpc_test_")
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        self.key = os.path.join(self.tmp, "dev.key")
        tt.rpc.keygen(self.key)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *extra):
        s = Server(self.key, self.work, *extra)
        self.servers.append(s)
        return s

    def stop_and_check(self, server):
        """Stops server; no session process is left and the work dir is empty."""
        log_before = server.stderr()
        self.assertEqual(server.stop(), 0, server.stderr())
        self.assertIn("stopping", server.stderr())
        self.assertEqual(live_in_groups(session_pids(log_before)), [])
        self.assertEqual(os.listdir(self.work), [])

    def connect(self, server, key=None, **kw):
        return tt.rpc.connect("127.0.0.1", server.port, key_file=key or self.key, **kw)

    def test_run_kernels_and_time(self):
        s = self.start()
        sess = self.connect(s)
        info = sess.device_info()
        for field in ("triple", "cpu", "target", "cores", "runtime_version", "protocol_version"):
            self.assertIn(field, info)
        self.assertEqual(info["runtime_version"], tt.__version__)
        if TRIPLE:
            self.assertEqual(info["triple"], TRIPLE)
        # the target string the tuner builds for: this triple and an LLVM CPU name
        self.assertTrue(info["target"].startswith("llvm -mtriple=%s -mcpu=" % info["triple"]),
                        info["target"])
        self.assertEqual(sess.upload(KERNELS, "kernels.so"), "kernels.so")
        m = sess.load_module("kernels.so")
        self.assertEqual(m.module.format, "rpc")
        rng = np.random.default_rng(1)
        x = rng.random(1000, dtype=np.float32)
        y = rng.random(1000, dtype=np.float32)
        a, b, c = sess.array(x), sess.array(y), sess.empty((1000,), "float32")
        m["vadd"](a, b, c)
        np.testing.assert_allclose(c.numpy(), x + y, rtol=1e-6)
        A = rng.random((17, 33), dtype=np.float32)
        B = rng.random((33, 9), dtype=np.float32)
        C = sess.empty((17, 9), "float32")
        m["matmul"](sess.array(A), sess.array(B), C)
        np.testing.assert_allclose(C.numpy(), A @ B, rtol=1e-5)
        self.assertEqual(m["scale"](1.25), 2.5)
        # A big array crosses several chunks both ways.
        big = rng.random((3 << 20) if not QEMU else (1 << 20) + 5, dtype=np.float32)
        np.testing.assert_array_equal(sess.array(big).numpy(), big)
        costs = m.time_evaluator("vadd", number=2, repeat=3, min_repeat_ms=1)(a, b, c)
        self.assertEqual(len(costs), 3)
        self.assertTrue(all(isinstance(t, float) and t > 0 for t in costs), costs)
        # Remote errors come back with the device's message; the session goes on.
        with self.assertRaises(tt.TVMTuneError) as cm:
            m["vadd"](a, b)
        self.assertIn("vadd: 2 arguments, expected 3", str(cm.exception))
        with self.assertRaises(tt.TVMTuneError) as cm:
            m["vadd"](x, y, c)  # local numpy arrays are not on the device
        self.assertIn("local array", str(cm.exception))
        self.assertNotIn("no_such_kernel", m)
        sess.remove("kernels.so")
        with self.assertRaises(tt.TVMTuneError) as cm:
            sess.remove("kernels.so")
        self.assertIn('cannot remove "kernels.so"', str(cm.exception))
        with self.assertRaises(tt.TVMTuneError) as cm:
            sess.load_module("missing.so")
        self.assertIn("missing.so", str(cm.exception))
        sess.close()
        self.stop_and_check(s)

    def test_upload_names_and_limits(self):
        s = self.start("--max-upload-mb", "1")
        sess = self.connect(s)
        up = sess.get_function("rpc.upload")
        for name, why in (("../x.so", "starts with a dot"), ("x/../y", 'contains ".."'), (".hidden", "starts with a dot"),
                          ("a/b.so", "contains a '/'"), ("", "file name of 0 bytes"),
                          ("a..b", 'contains ".."'), ("x y", "byte 0x20")):
            with self.assertRaises(tt.TVMTuneError) as cm:
                up(name, b"data", 0)
            self.assertIn(why, str(cm.exception))
        big = os.path.join(self.tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(3 << 19))  # 1.5 MB
        with self.assertRaises(tt.TVMTuneError) as cm:
            sess.upload(big)
        self.assertIn("--max-upload-mb", str(cm.exception))
        self.assertEqual(up("k.so", b"abcd", 0), 4)
        with self.assertRaises(tt.TVMTuneError) as cm:
            up("k.so", b"late chunk", 9)
        self.assertIn("chunks must arrive in order", str(cm.exception))
        sess.close()
        self.stop_and_check(s)

    def test_refusals_keep_the_server_serving(self):
        s = self.start()
        other = os.path.join(self.tmp, "other.key")
        tt.rpc.keygen(other)
        # A client with another key: refused, with a message that says why.
        with self.assertRaises(tt.TVMTuneError) as cm:
            self.connect(s, key=other)
        self.assertIn("authentication failed", str(cm.exception))

        def exchange(data, half_close=True):
            with socket.create_connection(("127.0.0.1", s.port)) as sock:
                sock.sendall(data)
                if half_close:
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:  # the server may have answered and ended its side already
                        pass
                return read_frame(sock), sock

        # No key at all: a peer that sends HELLO, then a made-up proof.
        with socket.create_connection(("127.0.0.1", s.port)) as sock:
            sock.sendall(hello())
            ftype, _ = read_frame(sock)
            self.assertEqual(ftype, 2)  # HELLO_REPLY: the server proved itself, we cannot
            sock.sendall(frame(3, os.urandom(56)))
            ftype, body = read_frame(sock)
            self.assertEqual(ftype, 5)
            self.assertIn("authentication failed", error_message(body))
            self.assertIsNone(read_frame(sock))  # and the server hangs up
        # Garbage.
        (ftype, body), _ = exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(ftype, 5)
        self.assertIn("bad magic", error_message(body))
        # Oversized: a header claiming 1 TB is refused from the header alone.
        (ftype, body), _ = exchange(b"TTRP" + struct.pack("<HHQ", PROTOCOL, 1, 1 << 40), False)
        self.assertIn("exceeds the limit of 512 bytes", error_message(body))
        # A newer protocol: both versions named.
        (ftype, body), _ = exchange(hello(version=PROTOCOL + 1))
        msg = error_message(body)
        self.assertIn("protocol version mismatch", msg)
        self.assertIn("client speaks protocol %d" % (PROTOCOL + 1), msg)
        self.assertIn("server speaks protocol %d" % PROTOCOL, msg)
        # An incompatible runtime.
        (ftype, body), _ = exchange(hello(runtime=b"7.0.0"))
        self.assertIn("runtime version mismatch", error_message(body))
        # Truncated: a header announcing 100 bytes, 10 sent, then the peer is gone.
        reply, _ = exchange(b"TTRP" + struct.pack("<HHQ", PROTOCOL, 1, 100) + b"x" * 10)
        self.assertIsNone(reply)
        # A call before authentication is refused as "expected HELLO first".
        (ftype, body), _ = exchange(frame(16, s32(b"rpc.upload")))
        self.assertIn("expected HELLO first", error_message(body))
        self.assertEqual(os.listdir(self.work), [])  # nothing on disk for any of them
        # And the server still serves.
        sess = self.connect(s)
        self.assertEqual(sess.device_info()["protocol_version"], PROTOCOL)
        sess.close()
        log = s.stderr()
        for needle in ("authentication failed", "bad magic", "exceeds the limit",
                       "protocol version mismatch", "closed by the peer"):
            self.assertIn(needle, log)
        self.stop_and_check(s)

    def test_crash(self):
        s = self.start()
        sess = self.connect(s)
        sess.upload(KERNELS, "kernels.so")
        m = sess.load_module("kernels.so")
        with self.assertRaises(tt.TVMTuneError) as cm:
            m["crash"]()
        self.assertIn("session process on the device ended", str(cm.exception))
        with self.assertRaises(tt.TVMTuneError) as cm:
            sess.device_info()
        self.assertIn("closed", str(cm.exception))
        # The next session works.
        sess = self.connect(s)
        self.assertIn("triple", sess.device_info())
        sess.close()
        self.assertIn("died of signal 11", s.stderr())
        self.stop_and_check(s)

    def test_session_timeout(self):
        limit = "10" if QEMU else "2"
        s = self.start("--session-timeout", limit)
        # A kernel that never returns: the session is killed with its process group at the
        # limit and the client is told. Whichever call the limit interrupts must say so.
        sess = self.connect(s)
        with self.assertRaises(tt.TVMTuneError) as cm:
            sess.upload(KERNELS, "kernels.so")
            sess.load_module("kernels.so")["spin"]()
        self.assertIn("session process on the device ended", str(cm.exception))
        sess = self.connect(s)
        self.assertIn("triple", sess.device_info())
        sess.close()
        self.assertIn("exceeded the session timeout of %s s" % limit, s.stderr())
        self.stop_and_check(s)

    def test_server_killed_leaves_no_session(self):
        # SIGKILL gives the server no chance to end its sessions: each session process ends with
        # its server all the same (PR_SET_PDEATHSIG), so nothing is left serving on the device.
        s = self.start()
        sess = self.connect(s)
        self.assertIn("triple", sess.device_info())  # the session is up and has logged its pid
        pids = session_pids(s.stderr())
        self.assertEqual(len(pids), 1, s.stderr())
        (pid,) = pids
        fd = os.pidfd_open(pid)
        try:
            os.kill(s.proc.pid, signal.SIGKILL)
            poller = select.poll()
            poller.register(fd, select.POLLIN)  # readable once the process has exited
            self.assertTrue(poller.poll(120 * 1000), "session %d outlived its server" % pid)
        finally:
            os.close(fd)
        self.assertEqual(live_in_groups({pid}), [])
        sess.close()

    def test_client_gone_ends_a_hung_session(self):
        # A client whose call timed out closes the connection; the session process must end then,
        # not keep the hung kernel spinning on the device until the session timeout (an hour).
        s = self.start()
        sess = self.connect(s, call_timeout=2.0 if not QEMU else 10.0)
        sess.upload(KERNELS, "kernels.so")
        spin = sess.load_module("kernels.so")["spin"]
        (pid,) = session_pids(s.stderr())
        fd = os.pidfd_open(pid)
        try:
            with self.assertRaises(tt.TVMTuneError) as cm:
                spin()
            self.assertIn("timeout", str(cm.exception))
            sess.close()
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            self.assertTrue(poller.poll(120 * 1000), "session %d outlived its client" % pid)
        finally:
            os.close(fd)
        self.assertEqual(live_in_groups({pid}), [])
        sess = self.connect(s)  # the server goes on serving
        self.assertIn("triple", sess.device_info())
        sess.close()
        self.stop_and_check(s)

    def test_client_errors(self):
        env = os.environ.pop("TT_RPC_KEY_FILE", None)
        try:
            with self.assertRaises(tt.TVMTuneError) as cm:
                tt.rpc.connect("127.0.0.1", 9)
            self.assertIn("no key file", str(cm.exception))
        finally:
            if env is not None:
                os.environ["TT_RPC_KEY_FILE"] = env
        # A port nobody listens on (one the kernel just gave us and we closed again).
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free_port = probe.getsockname()[1]
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.rpc.connect("127.0.0.1", free_port, key_file=self.key)
        self.assertIn("cannot connect to 127.0.0.1:%d" % free_port, str(cm.exception))
        os.chmod(self.key, 0o604)
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.rpc.connect("127.0.0.1", free_port, key_file=self.key)
        self.assertIn("has mode 0604", str(cm.exception))

    def test_server_flags(self):
        r = subprocess.run(PREFIX + [SERVER, "--port", "0"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--key-file is required", r.stderr)
        loose = os.path.join(self.tmp, "loose.key")
        with open(loose, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(loose, 0o644)
        r = subprocess.run(PREFIX + [SERVER, "--port", "0", "--key-file", loose],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("has mode 0644", r.stderr)
        r = subprocess.run(PREFIX + [SERVER, "keygen", "-o", self.key], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refusing to overwrite", r.stderr)


def main():
    global SERVER, KERNELS
    if len(sys.argv) < 3:
        print("usage: test_rpc_server.py SERVER_BINARY KERNEL_SO", file=sys.stderr)
        return 2
    SERVER, KERNELS = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[3:], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
