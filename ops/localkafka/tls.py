"""TLS and SASL/SCRAM listeners for the local broker, with certificates made by openssl.

Used by the security tests and by ``driftrec kafka start --tls-port/--sasl-port`` for people who
want to try the pipeline over TLS locally. The broker keeps its PLAINTEXT listener for itself
(inter-broker traffic and the readiness probe); clients may use any listener.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from streams.errors import BrokerError

SCRAM_MECHANISM = "SCRAM-SHA-256"


@dataclass(frozen=True)
class Certificates:
    """PEM files of a throw-away CA and a server certificate for 127.0.0.1 / localhost."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


@dataclass(frozen=True)
class SecureListeners:
    """Extra broker listeners: SSL on ``ssl_port``, SASL_SSL (SCRAM-SHA-256) on ``sasl_port``."""

    certs: Certificates
    ssl_port: int | None = None
    sasl_port: int | None = None
    #: SCRAM users created when the storage is formatted (name -> password).
    scram_users: dict[str, str] = field(default_factory=dict)

    def listeners(self, host: str) -> list[tuple[str, str]]:
        """(listener name, host:port) pairs; the listener name doubles as its protocol."""
        out = []
        if self.ssl_port:
            out.append(("SSL", f"{host}:{self.ssl_port}"))
        if self.sasl_port:
            out.append(("SASL_SSL", f"{host}:{self.sasl_port}"))
        return out

    def server_properties(self) -> str:
        """Broker settings for the extra listeners (appended to server.properties)."""
        lines = [
            "ssl.keystore.type=PEM",
            f"ssl.keystore.certificate.chain={_pem_line(self.certs.server_cert)}",
            f"ssl.keystore.key={_pem_line(self.certs.server_key)}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.certificates={_pem_line(self.certs.ca_cert)}",
            "ssl.client.auth=none",
        ]
        if self.sasl_port:
            lines += [
                f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
                f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            ]
        return "\n".join(lines) + "\n"

    def format_args(self) -> list[str]:
        """Extra ``StorageTool format`` arguments that create the SCRAM users."""
        args = []
        for name, password in sorted(self.scram_users.items()):
            args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]"]
        return args


def _pem_line(path: Path) -> str:
    # Java properties: a PEM value on one line, newlines escaped.
    return path.read_text().strip().replace("\n", "\\n")


def make_certificates(folder: Path, days: int = 2) -> Certificates:
    """A CA and a CA-signed server certificate (SAN 127.0.0.1 and localhost), unencrypted keys."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise BrokerError("openssl not found on PATH (Debian: apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = folder / "ca.key", folder / "ca.pem"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        proc = subprocess.run([openssl, *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BrokerError(f"openssl {args[0]} failed: {proc.stderr.strip()}")

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
        str(ca_cert), "-days", str(days), "-subj", "/CN=driftrec-test-ca")  # fmt: skip
    # Kafka reads PEM private keys in PKCS#8 form, which genpkey writes.
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
    run("req", "-new", "-key", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", str(days), "-extfile", str(ext))  # fmt: skip
    return Certificates(ca_cert=ca_cert, server_cert=cert, server_key=key)
