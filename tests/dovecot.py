"""A real Dovecot IMAP server for the tests, from a throw-away configuration.

Dovecot's auth and mail processes run as other users (``dovecot``, ``nobody``), so the
server's folder lives under a 0755 directory (pytest's ``tmp_path`` is 0700 and gives
"Temporary authentication failure"). Loopback only, a free port, plain IMAP (and STARTTLS
with a self-signed certificate when asked), a passwd-file user with a maildir.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = Path("/usr/sbin/dovecot")
USER = "borgerservice@kommune.test"
PASSWORD = "hemmeligt-kodeord"
MAIL_UID = 65534  # nobody: Dovecot refuses to run mail processes as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir:LAYOUT=fs
first_valid_uid = 1
last_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    cert: Path | None = None

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def start(self) -> None:
        subprocess.run([str(DOVECOT), "-c", str(self.config)], check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen: {self.log()}")

    def _children(self) -> list[int]:
        """The server's processes besides the master (by the master's pid: ours only)."""
        try:
            master = (self.root / "run" / "master.pid").read_text().strip()
        except OSError:
            return []
        found = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", master], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def stop(self) -> None:
        """Stop the server and its client sessions (Dovecot leaves a running imap process
        serving its client after the master stops: an outage must end those too)."""
        children = self._children()
        subprocess.run(
            [str(DOVECOT), "-c", str(self.config), "stop"], check=False, capture_output=True
        )
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    time.sleep(0.05)
            except OSError:
                return

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port)
        imap.login(USER, PASSWORD)
        return imap

    def append(self, raw: bytes, folder: str = "INBOX", when: float | None = None) -> None:
        imap = self.client()
        try:
            imap.create(folder)  # exists already: a NO, ignored
            stamp = imaplib.Time2Internaldate(when if when is not None else time.time())
            typ, data = imap.append(folder, "", stamp, raw)
            assert typ == "OK", data
        finally:
            imap.logout()

    def append_many(self, raws: list[bytes], folder: str = "INBOX") -> None:
        """Many messages over one connection (a backlog)."""
        imap = self.client()
        try:
            stamp = imaplib.Time2Internaldate(time.time())
            for raw in raws:
                typ, data = imap.append(folder, "", stamp, raw)
                assert typ == "OK", data
        finally:
            imap.logout()

    def deliver_many(self, raws: list[bytes]) -> None:
        """A backlog written straight into the INBOX's maildir, as a local delivery agent
        writes it (each file into ``tmp/``, then renamed into ``new/``): thousands of
        messages in a moment, where an APPEND each waits for the server's answer. Dovecot
        gives them UIDs when it next looks at the folder."""
        maildir = self.root / "home" / USER / "Maildir"
        for sub in ("", "tmp", "new", "cur"):
            (maildir / sub).mkdir(exist_ok=True)
            os.chown(maildir / sub, MAIL_UID, MAIL_UID)
        stamp = int(time.time())
        for n, raw in enumerate(raws):
            name = f"{stamp}.M{n}P{os.getpid()}.svarfrist-test"
            part = maildir / "tmp" / name
            part.write_bytes(raw.replace(b"\r\n", b"\n"))  # maildir files have LF line ends
            os.chown(part, MAIL_UID, MAIL_UID)
            part.rename(maildir / "new" / name)

    def uids(self, folder: str) -> list[int]:
        imap = self.client()
        try:
            typ, _ = imap.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = imap.uid("SEARCH", "ALL")
            return [int(x) for x in data[0].split()]
        finally:
            imap.logout()

    def headers(self, folder: str) -> list[bytes]:
        imap = self.client()
        try:
            typ, _ = imap.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER])")
            return [item[1] for item in data if isinstance(item, tuple)]
        finally:
            imap.logout()


def make(ssl: bool = False) -> Dovecot:
    """Write a configuration under /tmp (0755) and a user; not started."""
    root = Path(tempfile.mkdtemp(prefix="svarfrist-dovecot-", dir="/tmp"))
    root.chmod(0o755)
    (root / "home" / USER).mkdir(parents=True)
    for sub in ("home", f"home/{USER}"):
        os.chown(root / sub, MAIL_UID, MAIL_UID)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "passwd").chmod(0o644)
    cert = None
    ssl_files = ""
    if ssl:
        cert, key = root / "cert.pem", root / "key.pem"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        ssl_files = f"ssl_cert = <{cert}\nssl_key = <{key}\n"
    port = free_port()
    config = _CONFIG.format(
        root=root, port=port, uid=MAIL_UID, ssl="yes" if ssl else "no", ssl_files=ssl_files
    )
    (root / "dovecot.conf").write_text(config)
    return Dovecot(root=root, port=port, cert=cert)


def remove(server: Dovecot) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
