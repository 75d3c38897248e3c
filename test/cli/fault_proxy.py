# SPDX-License-Identifier: LGPL-2.1-or-later
"""A TCP relay on 127.0.0.1 in front of a real server, for fault injection.

It does not speak HTTP: it forwards the bytes it gets both ways, counting
the server's bytes to the client (headers included), and
  cut_after=N, times=K   cuts a connection (a reset) once the server sent N
                         bytes on it, on the first K connections that get
                         that far, or on every one (times=None);
  down_after=N           once N bytes went through in all, cuts the
                         connection and every later one as soon as it is
                         accepted: the server is gone for good;
  stall_after=N          once N bytes went through in all, forwards nothing
                         more on any connection and keeps every socket
                         open (the client sees a live, silent server),
                         until the relay is closed;
  hook_after=N, hook=F   once N bytes went through in all, calls F() before
                         forwarding another byte (to swap the served file).

    with FaultProxy(port, cut_after=100_000, times=2) as proxy:
        ... proxy.url("file") ...
    proxy.cuts -> how many connections it cut
"""
import socket
import struct
import threading


class FaultProxy:
    def __init__(self, target_port, *, cut_after=None, times=None, down_after=None,
                 stall_after=None, hook_after=None, hook=None):
        self.target_port = target_port
        self.cut_after, self.times = cut_after, times
        self.down_after = down_after
        self.stall_after = stall_after
        self.hook_after, self.hook = hook_after, hook
        self.cuts = 0
        self.connections = 0
        self.total = 0                     # server bytes forwarded, all connections
        self.stalled = threading.Event()   # set when a connection stalls
        self.hooked = threading.Event()    # set when the hook has run
        self.down = threading.Event()      # set when down_after was reached
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sockets = []
        self._threads = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    # --- lifecycle -------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._closing.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:
            self._reset(s)
        self._accepter.join()
        for t in self._threads:
            t.join()

    # --- relaying ----------------------------------------------------------------------

    def _track(self, s):
        with self._lock:
            self._sockets.append(s)

    @staticmethod
    def _reset(s):
        """Drops @s: shut down (which wakes a thread blocked reading it)
        and closed with SO_LINGER 0, so that the peer sees a reset, not a
        clean end."""
        for step in (lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack("ii", 1, 0)),
                     lambda: s.shutdown(socket.SHUT_RDWR), s.close):
            try:
                step()
            except OSError:
                pass

    def _accept(self):
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            if self.down.is_set():
                self._reset(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the server is down: so is the connection
                self._reset(client)
                continue
            self._track(client)
            self._track(server)
            up = threading.Thread(target=self._upstream, args=(client, server), daemon=True)
            down = threading.Thread(target=self._downstream, args=(client, server),
                                    daemon=True)
            self._threads += [up, down]
            up.start()
            down.start()

    def _upstream(self, client, server):
        """Client to server: forwarded as it comes."""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    server.shutdown(socket.SHUT_WR)
                    return
                server.sendall(data)
        except OSError:
            return

    def _take_cut(self):
        with self._lock:
            if self.times is not None and self.cuts >= self.times:
                return False
            self.cuts += 1
            return True

    def _downstream(self, client, server):
        """Server to client, counting; cuts, stalls and hooks on the way."""
        sent = 0
        cutting = self.cut_after is not None
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    client.shutdown(socket.SHUT_WR)
                    return
                while data:
                    if self.stall_after is not None and self.total >= self.stall_after:
                        self.stalled.set()
                        self._closing.wait()
                        return
                    if self.down.is_set():
                        self._reset(client)
                        self._reset(server)
                        return
                    steps = [len(data)]
                    if cutting:
                        steps.append(self.cut_after - sent)
                    with self._lock:
                        for n, done in ((self.stall_after, False), (self.down_after, False),
                                        (self.hook_after, self.hooked.is_set())):
                            if n is not None and not done:
                                steps.append(n - self.total)
                    step = max(1, min(steps))
                    client.sendall(data[:step])
                    data = data[step:]
                    sent += step
                    with self._lock:
                        self.total += step
                        hook_now = (self.hook is not None and not self.hooked.is_set()
                                    and self.total >= self.hook_after)
                    if hook_now:
                        self.hook()
                        self.hooked.set()
                    if self.down_after is not None and self.total >= self.down_after:
                        self.down.set()
                    if cutting and sent >= self.cut_after:
                        if self._take_cut():
                            self._reset(client)
                            self._reset(server)
                            return
                        cutting = False
        except OSError:
            return
