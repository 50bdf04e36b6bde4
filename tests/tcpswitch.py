"""A TCP proxy in front of a local server that a test can take away: ``down()`` refuses
connections (the port is closed, open connections are cut, as when the server restarts),
``hang()`` accepts connections and never answers (a server that is stuck), ``stall()`` lets the
open connections lead nowhere while new ones still reach the server (a restarted or moved
server behind a lost route: nothing closes, nothing arrives), ``up()`` forwards again on the
same port. Threads, loopback only; ``close()`` ends everything.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from livesrv import free_port

__all__ = ["TcpSwitch"]


class TcpSwitch:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._mode = "up"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._stalled: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TcpSwitch:
        self.up()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ switching

    def up(self) -> None:
        """Forward every new connection to the target."""
        with self._lock:
            self._mode = "up"
            if self._listener is None:
                self._listen()

    def hang(self) -> None:
        """Accept new connections and never answer them; open ones are cut."""
        with self._lock:
            self._mode = "hang"
            if self._listener is None:
                self._listen()
        self._cut()

    def stall(self) -> None:
        """The open connections stay open and carry nothing more, either way; new ones are
        forwarded as by ``up()``."""
        with self._lock:
            self._stalled |= self._sockets

    def down(self) -> None:
        """Refuse new connections (nothing listens) and cut open ones."""
        with self._lock:
            self._mode = "down"
            listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self._cut()

    def close(self) -> None:
        self.down()
        for thread in self._threads:
            thread.join(timeout=5)

    # ------------------------------------------------------------------ internals

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._start(self._accept, listener)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads = [known for known in self._threads if known.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
            self._stalled = set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            self._track(client)
            if self._mode == "hang":
                continue  # kept open, never read, never answered
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self._track(upstream)
            self._start(self._pump, client, upstream)
            self._start(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if source not in self._stalled:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
