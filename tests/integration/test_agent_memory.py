"""What keeps the agent small on a board (docs/BENCHMARKS.md, "Where the
agent's memory goes"): its MQTT and Modbus threads run on fixed 256 KiB
stacks, not glibc's default (RLIMIT_STACK, 8 MiB on Debian), and every
thread allocates from the one malloc arena, so no thread keeps a 64 MiB
arena reservation with freed memory of its own.  Read from /proc while the
agent polls a device and is connected: layout, not timing."""
import os

from conftest import wait_for
from agent_kit import Agent, Sim, write_config

STACK_MAX = 256 * 1024
ARENA_SPAN = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit


def mappings(pid):
    """(lo, hi, perms, name) of each mapping of pid."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            head = line.split()
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            out.append((lo, hi, head[1], head[5] if len(head) > 5 else ""))
    return out


def thread_stacks(pid):
    """{thread name: [stack mapping sizes]} for the agent's MQTT and bus
    threads (named vigie-mqtt, vigie-bus; a sanitizer's own threads are
    left out), or None while one is not blocked in a system call (its
    stack pointer is then not published)."""
    maps, sizes = mappings(pid), {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        if name not in ("vigie-mqtt", "vigie-bus"):
            continue
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            fields = f.read().split()
        if len(fields) < 3:  # "running"
            return None
        sp = int(fields[-2], 16)
        sizes.setdefault(name, []).append(
            next(hi - lo for lo, hi, _, _ in maps if lo <= sp < hi))
    return sizes


def test_threads_have_small_stacks_and_share_one_arena(broker, tmp_path,
                                                       procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    devices = {"plc": {"tcp": f"127.0.0.1:{sim.port}", "slave": 1,
                       "poll_interval_ms": 200}}
    units = {f"U{k}": {"program": "renir", "device": "plc", "address": k}
             for k in range(1, 9)}
    agent = Agent(write_config(tmp_path, broker.port, devices, units),
                  tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: (agent.status() or {}).get("link", {})
             .get("connected"), what="agent connected")
    pid = agent.proc.pid

    seen = []
    wait_for(lambda: seen.append(thread_stacks(pid)) or seen[-1] is not None,
             what="threads blocked in a system call")
    stacks = seen[-1]
    # the MQTT thread and one bus thread (one device)
    assert sorted((k, len(v)) for k, v in stacks.items()) == \
        [("vigie-bus", 1), ("vigie-mqtt", 1)], stacks
    for name, sizes in stacks.items():
        assert max(sizes) <= STACK_MAX, f"{name}: {sizes} byte stack"

    maps = mappings(pid)
    arenas = [(lo, hi) for (lo, hi, perm, name), nxt in zip(maps, maps[1:])
              if not name and perm.startswith("rw")
              and nxt[0] == hi and nxt[2].startswith("---")
              and nxt[1] - lo == ARENA_SPAN]
    assert arenas == [], f"threads' malloc arenas at {arenas}"
