"""An in-memory SMTP server (aiosmtpd) for tests of e-mail notifications."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from types import TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.ports import free_port


class _Capture:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
        message["X-Envelope-From"] = str(envelope.mail_from)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


class SMTPServer:
    """SMTP on ``127.0.0.1:<free port>`` (no TLS, no auth) capturing messages in memory.

    Attributes: `host`, `port`, `url` (``smtp://host:port``). `messages` is a snapshot list of
    `email.message.EmailMessage` (the envelope is in ``X-Envelope-From``/``X-Envelope-To``); `clear()` empties it.
    """

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.url = f"smtp://{self.host}:{self.port}"
        self._handler = _Capture()
        self._controller = Controller(self._handler, hostname=self.host, port=self.port, ready_timeout=30)
        self._serving = False

    def start(self) -> None:
        """Serve in a background thread; returns once the server answers. A stopped server cannot restart."""
        self._controller.start()
        self._serving = True

    def stop(self) -> None:
        """Stop serving (again: no-op)."""
        if self._serving:
            self._serving = False
            self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self._handler.lock:
            return list(self._handler.messages)

    def clear(self) -> None:
        """Forget the captured messages."""
        with self._handler.lock:
            self._handler.messages.clear()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
