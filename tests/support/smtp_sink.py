"""An SMTP server on 127.0.0.1 that keeps what it is sent: where tests deliver email alerts.

Enough of RFC 5321 for a client that sends plain mail (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT); it offers no STARTTLS and no AUTH, so the client's connection must disable both.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
import time
from email.message import EmailMessage


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 127.0.0.1 smtp-sink")
        while line := self.rfile.readline():
            verb = line[:4].decode(errors="replace").upper()
            if verb == "EHLO":
                self.reply("250-127.0.0.1")
                self.reply("250 8BITMIME")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self.server.keep(self.read_data())
                self.reply("250 OK: kept")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    def keep(self, data: bytes) -> None:
        message = email.message_from_bytes(data, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]


class SmtpSink:
    """`with SmtpSink() as sink:` serves on `sink.port` until the block ends."""

    def __init__(self) -> None:
        self._server = _Server()
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def messages(self) -> list[EmailMessage]:
        with self._server.lock:
            return list(self._server.messages)

    def wait_for_message(self, subject_contains: str, timeout: float) -> EmailMessage:
        """The first message whose Subject contains `subject_contains`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if subject_contains in str(message["Subject"]):
                    return message
            time.sleep(0.5)
        subjects = [str(m["Subject"]) for m in self.messages]
        raise TimeoutError(
            f"no mail with {subject_contains!r} in its subject within {timeout:.0f} s; "
            f"got {subjects}"
        )
