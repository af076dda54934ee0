#!/usr/bin/env python3
"""Benchmark of the cockpit over several hosts, through a real ssh.

A private sshd on 127.0.0.1 (its own config, host key and user key in a
temp dir; no system file touched) stands in for the way to other machines,
and other corral homes stand in for those machines (the host's `corral` is
a wrapper that points the same binary at its home), as in
tests/server/hosts.rs. Measures:

  latency  how long a line an agent prints takes to reach the cockpit's
           screen while 20 agents stream (50 lines/s each) on the same
           server: with the agents on this machine's server (Unix socket)
           and on host `box` (ssh on loopback). The issue's bar: ssh adds at
           most one frame (16 ms). The marker agent prints a line when the
           bench writes to its FIFO; tmux's screen is polled until the line
           shows (the polling itself costs a few ms, the same both ways).
  idle     the cockpit's CPU over 10 s attached to three hosts (this
           machine, `box`, `box2`), each with finished tasks and one task
           waiting on a question; and the CPU of its ssh children meanwhile
           (ssh keepalives every 15 s).

Usage: scripts/bench hosts [latency|idle ...] (default: both).
Env: CORRAL_BIN (default target/release/corral), CORRAL_BENCH_SAMPLES
(latency samples per side, default 40).
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENTS = os.path.join(ROOT, "tests/fixtures/agents")
BIN = os.environ.get("CORRAL_BIN", os.path.join(ROOT, "target/release/corral"))
SAMPLES = int(os.environ.get("CORRAL_BENCH_SAMPLES", "40"))
TICKS = os.sysconf("SC_CLK_TCK")
FRAME_MS = 16


def cpu_seconds(pid):
    """User + system CPU of process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid):
    """The child processes of `pid`, started by any of its threads."""
    out = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Home:
    """A corral home: config, data, state and runtime directories."""

    def __init__(self, root, name):
        self.path = os.path.join(root, name)
        for d in ("run", "work", "config/corral"):
            os.makedirs(os.path.join(self.path, d), mode=0o700, exist_ok=True)
        self.env = dict(
            os.environ,
            XDG_CONFIG_HOME=f"{self.path}/config",
            XDG_DATA_HOME=f"{self.path}/data",
            XDG_STATE_HOME=f"{self.path}/state",
            XDG_RUNTIME_DIR=f"{self.path}/run",
            NO_COLOR="1",
        )
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        with open(f"{self.path}/config/corral/config.toml", "w") as f:
            f.write("[defaults]\nconcurrency = 100\nnotifications = false\nbell = false\n")

    def corral(self, *args):
        out = subprocess.run([BIN, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise SystemExit(f"corral {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout.strip()

    def command_task(self, script):
        return self.corral("run", "--detach", "--agent", "command", "--agent-bin", "sh",
                           "--cwd", f"{self.path}/work", "--", script)

    def asker(self, prompt):
        return self.corral("run", "--detach", "--cwd", f"{self.path}/work",
                           "--agent-bin", f"{AGENTS}/fake_claude.sh", "--env", "FAKE_AGENT=ask_and_wait.py",
                           "--", prompt)

    def wrapper(self):
        """A `corral` for ssh to run: this binary in this home."""
        path = f"{self.path}/remote-corral"
        exports = " ".join(f"{k}={self.env[k]}" for k in
                           ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"))
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec env {exports} {BIN} \"$@\"\n")
        os.chmod(path, 0o755)
        return path

    def stop(self):
        subprocess.run([BIN, "server", "stop", "--kill"], env=self.env, capture_output=True, timeout=60)


class Sshd:
    def __init__(self, root):
        self.dir = os.path.join(root, "sshd")
        os.makedirs(self.dir)
        for key in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{self.dir}/{key}"], check=True)
        shutil.copy(f"{self.dir}/user_key.pub", f"{self.dir}/authorized_keys")
        os.makedirs("/run/sshd", exist_ok=True)
        self.port = free_port()
        with open(f"{self.dir}/sshd_config", "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir}/host_key\n"
                    f"AuthorizedKeysFile {self.dir}/authorized_keys\nPidFile {self.dir}/sshd.pid\n"
                    "StrictModes no\nUsePAM no\nPermitRootLogin yes\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n")
        sshd = next((p for p in ("/usr/sbin/sshd", "/usr/bin/sshd") if os.path.exists(p)), None)
        if sshd is None:
            raise SystemExit("sshd is not installed (openssh-server)")
        self.proc = subprocess.Popen([sshd, "-D", "-f", f"{self.dir}/sshd_config", "-E", f"{self.dir}/sshd.log"],
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("sshd did not listen")

    def host(self, name, home):
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        args = ["-p", str(self.port), "-i", f"{self.dir}/user_key", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"]
        quoted = ", ".join(f'"{a}"' for a in args)
        return f'[hosts.{name}]\nssh = "{user}@127.0.0.1"\nssh_args = [{quoted}]\ncorral = "{home.wrapper()}"\n\n'

    def stop(self):
        for pid in children(self.proc.pid):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        self.proc.kill()
        self.proc.wait()


class Cockpit:
    """The cockpit of `home` in a private tmux server."""

    def __init__(self, home, args, width=140, height=40):
        self.socket = f"corral-bench-hosts-{os.getpid()}"
        env = " ".join(f"{k}={home.env[k]}" for k in
                       ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"))
        line = f"cd {home.path}/work && exec env -u DBUS_SESSION_BUS_ADDRESS {env} NO_COLOR=1 {BIN} {' '.join(args)}"
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-x", str(width), "-y", str(height),
                        "-s", "b", line], check=True)
        self.pid = int(self.tmux("display", "-p", "-t", "b", "#{pane_pid}").strip())

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "b")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "b", *keys)

    def wait(self, ok, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if ok(s):
                return s
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {what}:\n{self.screen()}")

    def close(self):
        self.tmux("kill-server")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def latency_on(root, sshd, side):
    """Marker latencies (ms) with the marker and 20 streamers on `side`."""
    local = Home(root, f"local-{side}")
    box = Home(root, f"box-{side}")
    with open(f"{local.path}/config/corral/config.toml", "a") as f:
        f.write("\n" + sshd.host("box", box))
    runs_on = local if side == "local" else box
    fifo = f"{runs_on.path}/marker.fifo"
    os.mkfifo(fifo)
    cockpit = None
    writer = None
    try:
        runs_on.command_task(f'while read x < {fifo}; do echo "MARK-$x"; done')
        for i in range(20):
            runs_on.command_task(f'i=0; while :; do i=$((i+1)); echo "agent {i} line $i streams on"; sleep 0.02; done')
        cockpit = Cockpit(local, ["--host", "box"])
        cockpit.wait(lambda s: s.count("running") >= 21 and "connecting" not in s, "21 running tasks")
        for _ in range(25):
            cockpit.keys("k")
        cockpit.wait(lambda s: "· command · while read" in s, "the marker task in the pane")
        time.sleep(2)
        writer = open(fifo, "w")
        samples = []
        for n in range(SAMPLES):
            mark = f"MARK-{n}"
            start = time.perf_counter()
            writer.write(f"{n}\n")
            writer.flush()
            while mark not in cockpit.screen():
                if time.perf_counter() - start > 10:
                    raise SystemExit(f"{mark} never showed:\n{cockpit.screen()}")
            samples.append((time.perf_counter() - start) * 1000)
            time.sleep(0.1 + (n % 5) * 0.013)
        return samples
    finally:
        if writer is not None:
            writer.close()
        if cockpit is not None:
            cockpit.close()
        local.stop()
        box.stop()


def bench_latency(root, sshd):
    print("\n## latency: an agent's line to the screen while 20 agents stream (50 lines/s each)")
    print("| agents on | median | p90 | max |")
    print("|---|---|---|---|")
    medians = {}
    for side in ("local", "box"):
        xs = latency_on(root, sshd, side)
        medians[side] = statistics.median(xs)
        where = "this machine (socket)" if side == "local" else "host box (ssh, loopback)"
        print(f"| {where} | {medians[side]:.1f} ms | {pct(xs, 90):.1f} ms | {max(xs):.1f} ms |", flush=True)
    added = medians["box"] - medians["local"]
    verdict = "within" if added <= FRAME_MS else "OVER"
    print(f"\nssh adds {added:.1f} ms at the median: {verdict} one frame ({FRAME_MS} ms)")


def bench_idle(root, sshd):
    print("\n## idle: the cockpit attached to three hosts, nothing moving")
    local = Home(root, "idle-local")
    boxes = [Home(root, "idle-box"), Home(root, "idle-box2")]
    with open(f"{local.path}/config/corral/config.toml", "a") as f:
        f.write("\n" + sshd.host("box", boxes[0]) + sshd.host("box2", boxes[1]))
    cockpit = None
    try:
        for home in [local, *boxes]:
            for i in range(5):
                home.command_task(f"echo done {i}; exit 0")
            home.asker("waiting on a question")
        cockpit = Cockpit(local, ["--host", "box", "--host", "box2"])
        cockpit.wait(lambda s: "3 waiting for you" in s and s.count("succeeded") >= 15
                     and "connecting" not in s, "every host's tasks")
        time.sleep(3)
        ssh = children(cockpit.pid)
        before = cpu_seconds(cockpit.pid)
        ssh_before = sum(cpu_seconds(p) for p in ssh)
        time.sleep(10)
        used = cpu_seconds(cockpit.pid) - before
        ssh_used = sum(cpu_seconds(p) for p in ssh) - ssh_before
        print("| what | CPU over 10 s |")
        print("|---|---|")
        print(f"| cockpit, 3 hosts, 15 finished + 3 waiting | {used * 1000:.0f} ms ({used / 10 * 100:.2f} %) |")
        names = []
        for p in ssh:
            try:
                with open(f"/proc/{p}/comm") as f:
                    names.append(f.read().strip())
            except OSError:
                pass
        print(f"| its children ({', '.join(sorted(names))}) | {ssh_used * 1000:.0f} ms |", flush=True)
    finally:
        if cockpit is not None:
            cockpit.close()
        for home in [local, *boxes]:
            home.stop()


def main():
    if not os.path.exists(BIN):
        raise SystemExit(f"{BIN} is missing: run cargo build --release first (or set CORRAL_BIN)")
    for tool in ("tmux", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    which = sys.argv[1:] or ["latency", "idle"]
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[0]} (2 cores; numbers are noisy above ~0.5)")
    print(f"binary: {BIN}")
    root = tempfile.mkdtemp(prefix="corral-bench-hosts-")
    sshd = Sshd(root)
    try:
        for name in which:
            {"latency": bench_latency, "idle": bench_idle}[name](root, sshd)
    finally:
        sshd.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
