"""The one place that reads the environment (and an optional `.env`).

Everything else receives a `Settings` value, so tests and tools can build
their own without touching `os.environ`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


class Settings(BaseSettings):
    """Runtime configuration; every field maps to `HUNAR_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="HUNAR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    var_dir: Path = Field(default=DEFAULT_VAR_DIR, description="Local state: SQLite, secret key.")
    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite under var/ if empty.")
    redis_url: str | None = Field(default=None, description="RQ queues; in-process jobs if unset.")
    artifact_dir: Path | None = Field(default=None, description="CAD artifact store root.")
    secret_key: str | None = Field(default=None, description="Flask secret; generated if unset.")
    currency: str = "PKR"
    site: str = "lahore-1"
    public_url: str | None = Field(
        default=None,
        description="Base of absolute links in job packets, QR codes and e-mails, e.g. "
        "https://shop.example.com. Unset: a link made in a web request uses that request's "
        "host; a job packet keeps the address of the request that released its plan.",
    )
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default=["localhost", "127.0.0.1", "::1"],
        description="Comma-separated host names (no port) whose requests may supply the base "
        "of links in e-mails when HUNAR_PUBLIC_URL is unset, e.g. shop.lan,192.168.1.20. A "
        "request to any other host writes e-mails without a link, so a forged Host header "
        "never receives a password-reset link.",
    )
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    opcua_endpoint: str = "opc.tcp://127.0.0.1:4840/hunar/"
    inprocess_jobs: Literal["sync", "thread"] = Field(
        default="thread", description="Without Redis: run jobs in a background thread or inline."
    )
    floor_webhook_secret: str | None = Field(
        default=None, description="HMAC secret for POST /api/floor/events; unset disables it."
    )
    octoprint_bin: Path = Field(
        default=Path(".venv-octoprint/bin/octoprint"), description="Virtual printer for the demo."
    )
    proxy_hops: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Reverse proxies in front of the web app whose X-Forwarded-For/-Proto to trust "
        "(0: none). Per-IP rate limits need the client's address, not the proxy's.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="Mail server for customer and staff e-mails. Unset: e-mails are recorded "
        "as not sent (kept, sent once a server is configured), never an error for the user.",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = Field(default="Hunar <orders@localhost>", description="The From header.")
    smtp_starttls: bool = Field(default=False, description="Upgrade with STARTTLS before login.")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="Connect and reply timeout.")
    # Payment gateways (hosted checkout). Unset credentials: that method is not offered.
    jazzcash_merchant_id: str | None = Field(default=None, description="JazzCash pp_MerchantID.")
    jazzcash_password: SecretStr | None = Field(default=None, description="JazzCash pp_Password.")
    jazzcash_integrity_salt: SecretStr | None = Field(
        default=None, description="JazzCash integrity salt: the pp_SecureHash HMAC key."
    )
    jazzcash_url: str = Field(
        default="https://sandbox.jazzcash.com.pk/CustomerPortal/transactionmanagement/merchantform/",
        description="JazzCash hosted checkout (HTTP POST page redirection).",
    )
    jazzcash_inquiry_url: str = Field(
        default="https://sandbox.jazzcash.com.pk/ApplicationAPI/API/PaymentInquiry/Inquire",
        description="JazzCash transaction status inquiry.",
    )
    easypaisa_store_id: str | None = Field(default=None, description="Easypaisa storeId.")
    easypaisa_hash_key: SecretStr | None = Field(
        default=None, description="Easypaisa hash key (AES key of merchantHashedReq)."
    )
    easypaisa_username: str | None = Field(default=None, description="Easypaisa API user.")
    easypaisa_password: SecretStr | None = Field(default=None, description="Easypaisa API pass.")
    easypaisa_account: str | None = Field(
        default=None, description="Easypaisa merchant account number (accountNum of inquiries)."
    )
    easypaisa_url: str = Field(
        default="https://easypaystg.easypaisa.com.pk/easypay/Index.jsf",
        description="Easypaisa hosted checkout.",
    )
    easypaisa_inquiry_url: str = Field(
        default="https://easypaystg.easypaisa.com.pk/easypay-service/rest/v4/inquire-transaction",
        description="Easypaisa inquire-transaction API.",
    )
    gateway_timeout_s: float = Field(default=15.0, gt=0, description="Status inquiry timeout.")
    cad_job_timeout_s: int = 120
    plan_job_timeout_s: int = 600

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _host_list(cls, raw: object) -> object:
        """`a,b` from the environment; host names compare case-insensitively."""
        if isinstance(raw, str):
            raw = raw.split(",")
        if isinstance(raw, list | tuple):
            return [str(h).strip().strip("[]").lower() for h in raw if str(h).strip()]
        return raw

    def trusts_host(self, host: str) -> bool:
        """Whether a request's Host (`name[:port]`, `[v6]:port`) is one the shop serves itself."""
        if host.startswith("["):
            name = host[1 : host.find("]")]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name.lower() in self.trusted_hosts

    def base_url(self, request_url: str | None = None) -> str | None:
        """Where absolute links point: HUNAR_PUBLIC_URL when set, else the asking request's
        own address (`request.host_url`), else None (no request and no setting: the caller
        decides, it is never a guessed host)."""
        chosen = self.public_url or request_url
        return chosen.rstrip("/") if chosen else None

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file under `var_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'hunar.sqlite3').resolve()}"

    def resolved_artifact_dir(self) -> Path:
        return (self.artifact_dir or self.var_dir / "artifacts").resolve()

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once into `var_dir` (never committed)."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"secret_key.{secrets.token_hex(6)}.tmp")
        tmp.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic and exclusive: concurrent first runs agree on one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_text(encoding="utf-8").strip()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (used by tests and CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
