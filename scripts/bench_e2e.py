#!/usr/bin/env python3
"""End-to-end benchmark of the real `corral` binary in a real terminal.

Runs the release binary inside a private tmux server at 200x50 with fake
agents (tests/fixtures/agents) and measures what a user pays for:

  stream   CPU-seconds corral spends per MB a command agent prints (coloured
           lines, `cat` of a file), one agent and four at once, against the
           floor: `cat` of the same bytes into a PTY; plus the bytes the
           store wrote for them.
  deltas   CPU per claude stream-json delta at 1/16/64 agents, recorder
           included (the fake claude `tui_flood.py`).
  keys     key-to-screen latency while 1/16/64 fake claude agents stream:
           `?` opens the help and `Escape` closes it, timed until tmux's
           screen shows the change (tmux's own echo is the floor).
  start    time to the first frame with 1,000 and 10,000 stored tasks
           (cloned from one real stored task), in a PTY of its own.
  idle     corral's CPU over 60 s (CORRAL_BENCH_IDLE_SECONDS) with 16 finished
           and 4 waiting tasks.
  server   the corral server: its CPU over 10 s with 16 finished and 4
           waiting tasks (blocked on an approval) and no cockpit, and the first frame of a cockpit
           attaching to a running server that holds 1,000 stored tasks.

The cockpit measurements run `corral --local` (agents in the cockpit's own
process, so its CPU is all of corral's); `server` measures the server and
its client.

Usage: scripts/bench e2e [stream|deltas|keys|start|idle|server ...] (default: all).
Env: CORRAL_BIN (default target/release/corral), CORRAL_BENCH_REPEAT (runs
per measurement, default 3; medians are printed).
"""
import json
import os
import pty
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENTS = os.path.join(ROOT, "tests/fixtures/agents")
BIN = os.environ.get("CORRAL_BIN", os.path.join(ROOT, "target/release/corral"))
REPEAT = int(os.environ.get("CORRAL_BENCH_REPEAT", "3"))
TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024


def cpu_seconds(pid):
    """User + system CPU of process `pid` itself (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def dir_bytes(path):
    total = 0
    for base, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(base, name))
            except OSError:
                pass
    return total


def coloured_file(path, size):
    words = "the quick brown fox jumps over the lazy dog compiling crate warning error test passed".split()
    out, n, i = [], 0, 0
    while n < size:
        c = 31 + i % 7
        body = " ".join(words[(i * 7 + k * 3) % len(words)] for k in range(12))
        line = f"\x1b[{c}m{i:7d}\x1b[0m {body} \x1b[1;{c}mok\x1b[0m\n"
        out.append(line)
        n += len(line)
        i += 1
    with open(path, "w") as f:
        f.write("".join(out))


def floor_cat(path, copies=1):
    """CPU-seconds of `cat` writing `path` into fresh PTYs (`copies` at once)."""
    procs = []
    for _ in range(copies):
        master, slave = pty.openpty()
        p = subprocess.Popen(["cat", path], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        procs.append((p, master))
    open_fds = {m: p for p, m in procs}
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], 5)
        for fd in ready:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                data = b""
            if not data:
                os.close(fd)
                del open_fds[fd]
    total = 0.0
    for p, _ in procs:
        _, _, usage = os.wait4(p.pid, 0)
        total += usage.ru_utime + usage.ru_stime
    return total


class Cockpit:
    """corral in a private tmux server with its own config and store."""

    def __init__(self, home, args, width=200, height=50):
        self.home = home
        self.socket = f"corral-bench-{os.getpid()}-{int(time.time() * 1000) % 100000}"
        env = " ".join(
            f"{k}={home}/{v}" for k, v in [("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state")]
        )
        # Every agent runs at once (the default would queue all but four).
        os.makedirs(f"{home}/config/corral", exist_ok=True)
        with open(f"{home}/config/corral/config.toml", "w") as f:
            f.write("[defaults]\nconcurrency = 100\n")
        command = f"env {env} {BIN} --local --no-bell --no-notify {args} --cwd {home}"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "t", command)
        self.pid = int(self.tmux("display", "-p", "-t", "t", "#{pane_pid}").strip())
        self.wait(lambda s: "#   status" in s or "no tasks yet" in s, "the cockpit")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def text(self, text):
        self.tmux("send-keys", "-t", "t", "-l", text)

    def wait(self, ok, what, timeout=120, every=0.05):
        end = time.monotonic() + timeout
        while True:
            s = self.screen()
            if ok(s):
                return s
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for {what}:\n{s}")
            time.sleep(every)

    def launch(self, prompt):
        self.keys("n")
        self.wait(lambda s: "new task" in s, "the form", every=0.01)
        self.text(prompt)
        self.keys("C-s")
        self.wait(lambda s: "new task" not in s, "the form to close", every=0.01)

    def statuses(self):
        out = []
        tasks = os.path.join(self.home, "data/corral/tasks")
        for name in os.listdir(tasks) if os.path.isdir(tasks) else []:
            try:
                with open(os.path.join(tasks, name, "task.json")) as f:
                    out.append(json.load(f)["status"])
            except (OSError, ValueError, KeyError):
                pass
        return out

    def wait_finished(self, n, timeout=600):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = self.statuses()
            if len(st) >= n and all(s in ("succeeded", "failed", "killed") for s in st):
                return
            time.sleep(0.05)
        raise SystemExit(f"tasks did not finish: {self.statuses()}")

    def close(self):
        self.tmux("kill-server")


def fresh_home():
    return tempfile.mkdtemp(prefix="corral-bench-")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_stream(work):
    data = os.path.join(work, "out20.txt")
    coloured_file(data, 20 * MB)
    size = os.path.getsize(data)
    print(f"\n## stream: command agents printing {size / MB:.0f} MB of coloured lines each (pane view)")
    print("| agents | corral CPU-s | floor (cat into a PTY) CPU-s | ratio | store bytes / streamed |")
    print("|---|---|---|---|---|")
    for copies in (1, 4):
        cpus, floors, stored = [], [], []
        for _ in range(REPEAT):
            floors.append(floor_cat(data, copies))
            home = fresh_home()
            c = Cockpit(home, "--agent command --agent-bin sh")
            try:
                before = cpu_seconds(c.pid)
                for _ in range(copies):
                    c.launch(f"exec cat {data}")
                c.wait_finished(copies)
                time.sleep(0.3)
                cpus.append(cpu_seconds(c.pid) - before)
                stored.append(dir_bytes(os.path.join(home, "data/corral/tasks")) / (size * copies))
            finally:
                c.close()
                shutil.rmtree(home, ignore_errors=True)
        cpu, floor = median(cpus), median(floors)
        print(f"| {copies} | {cpu:.2f} ({', '.join(f'{x:.2f}' for x in cpus)}) | {floor:.2f} | {cpu / floor:.1f}x | {median(stored):.2f} |", flush=True)


def bench_deltas(_work):
    deltas = int(os.environ.get("CORRAL_BENCH_DELTAS", "5000"))
    flood = os.path.join(AGENTS, "tui_flood.py")
    print(f"\n## deltas: claude agents x {deltas} stream-json deltas (grid of tasks, recorder on)")
    print("| agents | corral CPU-s | per delta | floor (the fakes' own CPU-s) |")
    print("|---|---|---|---|")
    for n in (1, 16, 64):
        cpus = []
        for _ in range(REPEAT):
            home = fresh_home()
            c = Cockpit(home, f"--agent claude --agent-bin {flood} --agent-arg {deltas}")
            try:
                before = cpu_seconds(c.pid)
                for i in range(n):
                    c.launch(f"flood {i}")
                c.wait_finished(n)
                time.sleep(0.3)
                cpus.append(cpu_seconds(c.pid) - before)
            finally:
                c.close()
                shutil.rmtree(home, ignore_errors=True)
        cpu = median(cpus)
        print(f"| {n} | {cpu:.2f} ({', '.join(f'{x:.2f}' for x in cpus)}) | {cpu / (n * deltas) * 1e6:.1f} us | - |", flush=True)


RATE_AGENT = r"""import json, sys, time
sys.stdout.write(json.dumps({"type": "system", "subtype": "init", "session_id": "rate", "model": "fake"}) + "\n")
i = 0
while True:
    i += 1
    ev = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"word {i} " + ("\n" if i % 8 == 0 else "")}}
    sys.stdout.write(json.dumps({"type": "stream_event", "event": ev}) + "\n")
    sys.stdout.flush()
    time.sleep(0.01)
"""


def key_latency(c, samples):
    times = []
    for _ in range(samples):
        t0 = time.monotonic()
        c.keys("?")
        c.wait(lambda s: "Esc closes" in s, "the help", every=0.002)
        times.append(time.monotonic() - t0)
        t0 = time.monotonic()
        c.keys("Escape")
        c.wait(lambda s: "Esc closes" not in s, "the help to close", every=0.002)
        times.append(time.monotonic() - t0)
        time.sleep(0.05)
    return times


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def bench_keys(work):
    agent = os.path.join(work, "rate_agent.py")
    with open(agent, "w") as f:
        f.write("#!/usr/bin/env python3\n" + RATE_AGENT)
    os.chmod(agent, 0o755)
    print("\n## keys: `?` / `Escape` to screen while claude agents stream (100 deltas/s each)")
    print("| agents | p50 | p99 | max | samples |")
    print("|---|---|---|---|---|")
    for n in (0, 1, 16, 64):
        home = fresh_home()
        c = Cockpit(home, f"--agent claude --agent-bin {agent}")
        try:
            for i in range(n):
                c.launch(f"stream {i}")
            if n:
                c.wait(lambda s: f"{n} running" in s, f"{n} running", timeout=120)
                time.sleep(1)
            t = key_latency(c, 20 * REPEAT)
            ms = [x * 1000 for x in t]
            print(f"| {n} | {pct(ms, 50):.0f} ms | {pct(ms, 99):.0f} ms | {max(ms):.0f} ms | {len(ms)} |", flush=True)
        finally:
            c.close()
            shutil.rmtree(home, ignore_errors=True)


def seed_store(home, count):
    """One real stored task (a claude transcript through `corral run`),
    cloned `count` times under fresh ids."""
    env = dict(os.environ, XDG_CONFIG_HOME=f"{home}/config", XDG_DATA_HOME=f"{home}/data", XDG_STATE_HOME=f"{home}/state",
               FAKE_AGENT="replay.sh", FAKE_AGENT_ARGS=os.path.join(AGENTS, "claude_tool.jsonl"))
    subprocess.run([BIN, "run", "--agent-bin", os.path.join(AGENTS, "fake_claude.sh"), "--cwd", home, "say hi"],
                   env=env, capture_output=True, check=True)
    tasks = os.path.join(home, "data/corral/tasks")
    (seed,) = os.listdir(tasks)
    src = os.path.join(tasks, seed)
    with open(os.path.join(src, "task.json")) as f:
        record = json.load(f)
    for i in range(count - 1):
        new = f"{0x10000000 + i:08x}"
        dst = os.path.join(tasks, new)
        os.mkdir(dst, 0o700)
        for name in os.listdir(src):
            if name == "task.json":
                record["id"] = new
                record["title"] = f"stored task {i}"
                with open(os.path.join(dst, name), "w") as f:
                    json.dump(record, f)
            else:
                shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))


def first_frame(home, marker, mode="--local"):
    """Milliseconds from exec to the first frame that shows `marker`
    (`mode`: `--local`, or None to attach to the home's server)."""
    env = dict(os.environ, XDG_CONFIG_HOME=f"{home}/config", XDG_DATA_HOME=f"{home}/data", XDG_STATE_HOME=f"{home}/state",
               XDG_RUNTIME_DIR=f"{home}/run", TERM="xterm-256color")
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(BIN, [BIN] + ([mode] if mode else []) + ["--no-bell", "--no-notify", "--cwd", home], env)
    import fcntl
    import struct
    import termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    seen = b""
    elapsed = None
    while time.monotonic() - t0 < 120:
        r, _, _ = select.select([fd], [], [], 1)
        if not r:
            continue
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            break
        seen += chunk
        # Answer cursor-position and device queries the way a terminal would.
        if b"\x1b[6n" in chunk:
            os.write(fd, b"\x1b[1;1R")
        if b"\x1b[c" in chunk:
            os.write(fd, b"\x1b[?62;22c")
        if marker.encode() in re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen):
            elapsed = (time.monotonic() - t0) * 1000
            break
    os.write(fd, b"q")
    time.sleep(0.2)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    return elapsed


def bench_start(_work):
    print("\n## start: first frame (ms) in a 200x50 PTY")
    print("| stored tasks | first frame p50 | runs |")
    print("|---|---|---|")
    for count in (0, 1000, 10000):
        home = fresh_home()
        try:
            marker = "no tasks yet"
            if count:
                seed_store(home, count)
                marker = "elapsed"
            runs = [first_frame(home, marker) for _ in range(REPEAT)]
            shown = ", ".join("-" if r is None else f"{r:.0f}" for r in runs)
            ok = [r for r in runs if r is not None]
            print(f"| {count} | {median(ok):.0f} ms | {shown} |", flush=True)
        finally:
            shutil.rmtree(home, ignore_errors=True)


def bench_idle(work):
    seconds = int(os.environ.get("CORRAL_BENCH_IDLE_SECONDS", "60"))
    print(f"\n## idle: corral's CPU over {seconds} s with 16 finished and 4 waiting tasks")
    home = fresh_home()
    c = Cockpit(home, "--agent command --agent-bin sh")
    try:
        for i in range(16):
            c.launch(f"echo done {i}; exit 0")
        for i in range(4):
            c.launch(f"echo waiting {i}")
        c.wait(lambda s: s.count("succeeded") >= 16, "16 finished", timeout=60)
        time.sleep(3)
        before = cpu_seconds(c.pid)
        time.sleep(seconds)
        used = cpu_seconds(c.pid) - before
        print(f"| idle CPU | {used / seconds * 100:.2f} % ({used:.2f} CPU-s in {seconds} s) |", flush=True)
    finally:
        c.close()
        shutil.rmtree(home, ignore_errors=True)


def bench_server(_work):
    print("\n## server: idle CPU and attaching")
    home = fresh_home()
    os.makedirs(f"{home}/run", mode=0o700)
    env = dict(os.environ, XDG_CONFIG_HOME=f"{home}/config", XDG_DATA_HOME=f"{home}/data",
               XDG_STATE_HOME=f"{home}/state", XDG_RUNTIME_DIR=f"{home}/run")
    os.makedirs(f"{home}/config/corral", exist_ok=True)
    with open(f"{home}/config/corral/config.toml", "w") as f:
        f.write("[defaults]\nconcurrency = 100\nnotifications = false\n")
    server = None
    try:
        seed_store(home, 1000)
        server = subprocess.Popen([BIN, "server"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if not server.stdout.readline().startswith("corral server listening"):
            raise SystemExit("the server did not start")
        runs = [first_frame(home, "elapsed", mode=None) for _ in range(REPEAT)]
        shown = ", ".join("-" if r is None else f"{r:.0f}" for r in runs)
        ok = [r for r in runs if r is not None]
        print(f"| attach, 1,000 stored tasks: first frame | {median(ok):.0f} ms ({shown}) |", flush=True)
        detach = [BIN, "run", "--detach", "--agent", "command", "--agent-bin", "sh", "--cwd", home, "--"]
        for i in range(16):
            subprocess.run(detach + [f"echo done {i}; exit 0"], env=env, capture_output=True, check=True)
        # Waiting: blocked on an approval (a fake claude that asks and waits).
        asker = [BIN, "run", "--detach", "--agent-bin", os.path.join(AGENTS, "fake_claude.sh"),
                 "--env", "FAKE_AGENT=ask_and_wait.py", "--cwd", home, "--"]
        for i in range(4):
            subprocess.run(asker + [f"waiting {i}"], env=env, capture_output=True, check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ls = subprocess.run([BIN, "ls", "--json"], env=env, capture_output=True, text=True).stdout
            statuses = [t["status"] for t in json.loads(ls or "[]")]
            if statuses.count("blocked") == 4 and statuses.count("succeeded") >= 16:
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"not 16 finished + 4 waiting: {statuses}")
        time.sleep(3)
        before = cpu_seconds(server.pid)
        time.sleep(10)
        used = cpu_seconds(server.pid) - before
        print(f"| idle server, 16 finished + 4 waiting, no client | {used / 10 * 100:.2f} % ({used:.2f} CPU-s in 10 s) |", flush=True)
    finally:
        subprocess.run([BIN, "server", "stop", "--kill"], env=env, capture_output=True)
        if server is not None:
            server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def main():
    if not os.path.exists(BIN):
        raise SystemExit(f"{BIN} is missing: run cargo build --release first")
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed")
    which = sys.argv[1:] or ["stream", "deltas", "keys", "start", "idle", "server"]
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[0]} (2 cores; numbers are noisy above ~0.5)")
    work = tempfile.mkdtemp(prefix="corral-bench-work-")
    try:
        for name in which:
            {"stream": bench_stream, "deltas": bench_deltas, "keys": bench_keys, "start": bench_start, "idle": bench_idle,
             "server": bench_server}[name](work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
