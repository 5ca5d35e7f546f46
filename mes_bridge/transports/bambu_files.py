"""The files side of the Bambu Lab LAN transport: the ``.gcode.3mf`` package and implicit FTPS.

A Bambu printer prints a ``.gcode.3mf`` (a 3MF zip whose ``Metadata/plate_1.gcode`` is the
G-code) from its SD card; the file gets there over FTPS with *implicit* TLS (port 990, user
``bblp``, password = the printer's access code). The package is built deterministically (fixed
zip timestamps), so the same job and G-code always give the same bytes: an identical re-delivery
is recognised by its MD5 on the card, and a different one is refused.

``Metadata/slice_info.config`` lists the plate's objects with an ``identify_id`` (the ids the
printer's ``skip_objects`` command takes). Our G-code comes from PrusaSlicer; a real printer can
only skip an object whose moves carry Bambu's own object labels (``M624``/``M625``), which
PrusaSlicer does not write, so object skipping on real hardware needs Bambu-labelled G-code.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import socket
import ssl
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from mes_bridge.packets import JobOrder
from mes_bridge.transports.base import DeliveryRejected, Packet, TransportUnavailable

PLATE_GCODE = "Metadata/plate_1.gcode"
SLICE_INFO = "Metadata/slice_info.config"
STARTED_DIR = "started"
FTPS_USER = "bblp"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: identical content must give identical bytes
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
    '<Default Extension="gcode" ContentType="text/x.gcode"/>'
    '<Default Extension="config" ContentType="text/xml"/></Types>\n'
)


def file_name(job_id: str) -> str:
    """The job's file on the SD card: ``<job_order_id>.gcode.3mf`` (path-safe)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id)
    return f"{safe}.gcode.3mf"


def gcode_of(packet: Packet) -> bytes:
    """The packet's G-code (first ``*.gcode`` in ``files``)."""
    for name, data in packet.files.items():
        if name.lower().endswith(".gcode"):
            return data
    raise DeliveryRejected(f"packet {packet.job.job_order_id} has no .gcode file for Bambu")


def plate_objects(job: JobOrder) -> list[tuple[int, str]]:
    """(identify_id, name) per plate part; the name is the part's order line (traceable)."""
    return [(i + 1, part.order_line_id) for i, part in enumerate(job.plate)]


def _slice_info(job: JobOrder) -> str:
    objects = "".join(
        f'    <object identify_id={quoteattr(str(oid))} name={quoteattr(name)} skipped="false" />\n'
        for oid, name in plate_objects(job)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<config>\n  <header>\n'
        '    <header_item key="X-BBL-Client-Type" value="slicer"/>\n'
        '    <header_item key="X-BBL-Client-Name" value="hunar"/>\n  </header>\n'
        '  <plate>\n    <metadata key="index" value="1"/>\n'
        f'    <metadata key="weight" value={quoteattr(f"{job.grams:.2f}")}/>\n'
        f'    <metadata key="label_object_enabled" value="{str(bool(job.plate)).lower()}"/>\n'
        f"{objects}"
        f'    <filament id="1" type={quoteattr(job.material)} used_g={quoteattr(f"{job.grams:.2f}")}/>\n'
        "  </plate>\n</config>\n"
    )


def package(job: JobOrder, gcode: bytes) -> bytes:
    """The ``.gcode.3mf`` for one plate: G-code, its MD5, content types and slice info."""
    entries = {
        "[Content_Types].xml": _CONTENT_TYPES.encode(),
        PLATE_GCODE: gcode,
        f"{PLATE_GCODE}.md5": hashlib.md5(gcode).hexdigest().upper().encode(),
        SLICE_INFO: _slice_info(job).encode(),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def objects_in(package_bytes: bytes) -> dict[str, int]:
    """Object name -> identify_id from a package's slice info (our own format, read back)."""
    with zipfile.ZipFile(io.BytesIO(package_bytes)) as zf:
        root = ElementTree.fromstring(zf.read(SLICE_INFO))
    return {
        str(obj.get("name")): int(str(obj.get("identify_id")))
        for obj in root.iter("object")
        if obj.get("identify_id", "").isdigit()
    }


class ImplicitFTPS(ftplib.FTP_TLS):
    """ftplib speaks only explicit FTPS (AUTH TLS); Bambu printers expect implicit TLS, so the
    control socket is wrapped at connect, and data sockets reuse the control TLS session (the
    printer's vsftpd refuses data connections that do not)."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(context=context, timeout=timeout)

    def connect(
        self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None
    ) -> str:
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        if source_address is not None:
            self.source_address = source_address
        sys.audit("ftplib.connect", self, self.host, self.port)
        raw = socket.create_connection((self.host, self.port), self.timeout, self.source_address)
        try:
            self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        except (OSError, ssl.SSLError):
            raw.close()
            raise
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification off by default (a LAN printer's cert is self-signed); with a CA file the
    chain is verified. Hostnames are not checked: a printer's cert names its serial, not its IP."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class PrinterFiles:
    """The printer's SD card over implicit FTPS; one short session per operation (printers
    allow only a few sessions, and a long-lived one dies silently on a reboot)."""

    def __init__(
        self, host: str, port: int, access_code: str, ca_file: str | None, timeout_s: float
    ) -> None:
        self.host, self.port, self.access_code = host, port, access_code
        self.timeout_s = timeout_s
        self._context = tls_context(ca_file)

    @contextmanager
    def session(self) -> Iterator[ImplicitFTPS]:
        ftp = ImplicitFTPS(self._context, self.timeout_s)
        try:
            try:
                ftp.connect(self.host, self.port)
                ftp.login(FTPS_USER, self.access_code)
                ftp.prot_p()
                ftp.voidcmd("TYPE I")
            except ftplib.error_perm as exc:
                raise DeliveryRejected(f"bambu ftps login refused (access code?): {exc}") from exc
            yield ftp
            ftp.quit()
        except (OSError, EOFError, ftplib.error_temp, ftplib.error_reply) as exc:
            raise TransportUnavailable(f"bambu ftps {self.host}:{self.port}: {exc}") from exc
        finally:
            ftp.close()

    @staticmethod
    def read(ftp: ImplicitFTPS, path: str) -> bytes | None:
        """The file's bytes, or None when the card has no such file."""
        chunks: list[bytes] = []
        try:
            ftp.retrbinary(f"RETR {path}", chunks.append)
        except ftplib.error_perm as exc:
            if str(exc).startswith("550"):
                return None
            raise DeliveryRejected(f"bambu ftps RETR {path}: {exc}") from exc
        return b"".join(chunks)

    @staticmethod
    def size(ftp: ImplicitFTPS, path: str) -> int | None:
        try:
            return ftp.size(path)
        except ftplib.error_perm:
            return None

    def locate(self, ftp: ImplicitFTPS, job_id: str) -> str | None:
        """Where the job's file is: ``started/<name>`` once a start was requested (the durable
        at-most-once mark), ``<name>`` when delivered but not started, None when absent."""
        name = file_name(job_id)
        for path in (f"{STARTED_DIR}/{name}", name):
            if self.size(ftp, path) is not None:
                return path
        return None

    @staticmethod
    def store(ftp: ImplicitFTPS, path: str, data: bytes) -> None:
        """Upload under a temporary name, then rename: a broken upload never takes the name."""
        part = f"{path}.part"
        try:
            ftp.storbinary(f"STOR {part}", io.BytesIO(data))
            ftp.rename(part, path)
        except ftplib.error_perm as exc:
            raise DeliveryRejected(f"bambu ftps upload {path}: {exc}") from exc

    @staticmethod
    def move(ftp: ImplicitFTPS, src: str, dst: str) -> None:
        if "/" in dst:
            try:
                ftp.mkd(dst.rsplit("/", 1)[0])
            except ftplib.error_perm:
                pass  # already there
        try:
            ftp.rename(src, dst)
        except ftplib.error_perm as exc:
            raise DeliveryRejected(f"bambu ftps rename {src} -> {dst}: {exc}") from exc
