"""Free TCP ports for test services, never handing out the same port twice in one test run."""

from __future__ import annotations

import socket
import threading

_lock = threading.Lock()
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port that is free on every interface right now and was not returned before in this process.

    The kernel picks the port (bind to port 0), so it is also free of other listeners; remembering the ports
    already handed out avoids two services of one run being given the same port before either binds it.
    """
    with _lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("0.0.0.0", 0))  # noqa: S104 - only to ask the kernel for a port free everywhere
                port: int = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("could not find a free TCP port")


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (see `free_port`)."""
    return [free_port() for _ in range(count)]


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
