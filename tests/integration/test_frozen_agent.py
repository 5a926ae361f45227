"""A frozen agent must turn stale, whatever the clocks say.

Before presence sessions, the will carried the time its client was made;
when the CONNACK came late (busy broker, slow link), the birth that
followed was newer, so the gateway rejected the will and a frozen site
stayed "not stale" for good.  Here the real agent connects through a relay
that holds the broker's answers back for a few seconds, then is frozen
with SIGSTOP: its units must turn stale once the broker gives up on it
(keepalive × 1.5), and come back when it thaws.
"""
import os
import select
import signal
import socket
import threading
import time

from agent_kit import Agent, write_config
from conftest import summaries, wait_for
from vigie import Gateway

HOLD_S = 3.0       # CONNACK held back this long
KEEPALIVE = 5


class SlowAnswers:
    """TCP relay on loopback: client → broker at once; broker → client
    held for the first HOLD_S seconds of each connection."""

    def __init__(self, target):
        self.target = target
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.stop = False
        self.conns = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                if not select.select([self.ls], [], [], 0.2)[0]:
                    continue
                down, _ = self.ls.accept()
                up = socket.create_connection(("127.0.0.1", self.target), 5)
            except (OSError, ValueError):
                return  # closed
            self.conns += 1
            threading.Thread(target=self._pump, args=(down, up),
                             daemon=True).start()

    def _pump(self, down, up):
        opened, held = time.monotonic(), b""
        try:
            while not self.stop:
                r = select.select([down, up], [], [], 0.1)[0]
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is down:
                        up.sendall(data)
                    else:
                        held += data
                if held and time.monotonic() - opened >= HOLD_S:
                    down.sendall(held)
                    held = b""
        except OSError:
            pass
        finally:
            down.close()
            up.close()

    def close(self):
        self.stop = True
        self.ls.close()


def stale_03(port):
    return summaries(port).get(("renir", "03"), {}).get("stale")


def test_frozen_agent_turns_stale_despite_a_late_connack(tmp_path, broker):
    g = Gateway(tmp_path, broker.port).start()
    relay = SlowAnswers(broker.port)
    units = {f"M{i}": {"program": "renir", "source": "manual"}
             for i in range(3)}
    conf = write_config(tmp_path, relay.port, {}, units)
    with open(conf) as f:
        text = f.read().replace("keepalive = 10", f"keepalive = {KEEPALIVE}")
    with open(conf, "w") as f:
        f.write(text)
    agent = Agent(conf, tmp_path)
    agent.start()
    try:
        wait_for(lambda: summaries(broker.port).get(("renir", "03"), {})
                 .get("eligible") == 3 and stale_03(broker.port) == 0,
                 timeout=30, what="the site online, 3 units")
        assert relay.conns >= 1
        os.kill(agent.proc.pid, signal.SIGSTOP)
        # the broker sends the will after keepalive × 1.5; then coalescing
        wait_for(lambda: stale_03(broker.port) == 3,
                 timeout=KEEPALIVE * 1.5 + 20, what="stale after the will")
        os.kill(agent.proc.pid, signal.SIGCONT)
        wait_for(lambda: stale_03(broker.port) == 0, timeout=60,
                 what="fresh again after the thaw")
    finally:
        if agent.proc and agent.proc.poll() is None:
            os.kill(agent.proc.pid, signal.SIGCONT)
        agent.stop()
        relay.close()
        g.stop()
