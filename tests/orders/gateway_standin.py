"""A local stand-in for the JazzCash and Easypaisa hosted checkouts (an HTTP server on
127.0.0.1), because the real sandboxes cannot be reached from the test machines.

It follows the published protocols as the adapters read them (orders/adapters/gateways/):

- JazzCash "HTTP POST Page Redirection" v1.1: POST /jazzcash/merchantform with the pp_ fields;
  the stand-in checks pp_SecureHash (HMAC-SHA256 keyed with the integrity salt over the salt and
  the '&'-joined values of the sorted non-empty pp fields), pp_MerchantID and pp_Password, and
  renders its hosted page. Its answer (`answer()`) is the signed form the hosted page auto-posts
  to pp_ReturnURL: pp_ResponseCode "000" on success, pp_Amount in paisa. POST /jazzcash/inquire
  is the Payment Status Inquiry (JSON in, signed JSON out).
- Easypaisa hosted checkout: POST /easypaisa/Index.jsf with storeId, amount, postBackURL,
  orderRefNum and merchantHashedReq (AES/ECB/PKCS5 of the sorted query under the hash key,
  base64), checked by decrypting it; POST /easypaisa/inquire is inquire-transaction (the
  `Credentials` header must be base64 of user:password).

A test plays the customer's browser: it posts the shop's signed form here, asks the stand-in to
settle the transaction (`answer`, or `settle_silently` for a callback that never comes), and
posts the answer's fields to the shop's return URL, as the hosted page would.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from orders.adapters.gateways.jazzcash import secure_hash

MERCHANT, PASSWORD, SALT = "MC-STANDIN", "pw-standin", "salt-standin"
STORE, HASH_KEY, EP_USER, EP_PASS = "STORE-1", "0123456789abcdef", "ep-user", "ep-pass"


@dataclass
class Txn:
    provider: str
    ref: str
    amount_paisa: int
    return_url: str
    status: str = "pending"  # pending | paid | failed
    paid_paisa: int | None = None


@dataclass
class GatewayStandIn:
    server: ThreadingHTTPServer
    txns: dict[str, Txn] = field(default_factory=dict)
    inquiries: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def jazz_url(self) -> str:
        return f"{self.base}/jazzcash/merchantform"

    def settings(self) -> dict[str, Any]:
        """Settings fields that point both adapters here."""
        return {
            "jazzcash_merchant_id": MERCHANT,
            "jazzcash_password": PASSWORD,
            "jazzcash_integrity_salt": SALT,
            "jazzcash_url": f"{self.base}/jazzcash/merchantform",
            "jazzcash_inquiry_url": f"{self.base}/jazzcash/inquire",
            "easypaisa_store_id": STORE,
            "easypaisa_hash_key": HASH_KEY,
            "easypaisa_username": EP_USER,
            "easypaisa_password": EP_PASS,
            "easypaisa_account": "03001234567",
            "easypaisa_url": f"{self.base}/easypaisa/Index.jsf",
            "easypaisa_inquiry_url": f"{self.base}/easypaisa/inquire",
            "gateway_timeout_s": 5.0,
        }

    def settle_silently(self, ref: str, ok: bool = True) -> None:
        """The customer paid, but the callback never reaches the shop."""
        with self.lock:
            t = self.txns[ref]
            t.status, t.paid_paisa = ("paid" if ok else "failed"), t.amount_paisa

    def answer(self, ref: str, code: str = "000", paid_paisa: int | None = None) -> dict[str, str]:
        """Settle a JazzCash transaction; the signed fields the hosted page posts back."""
        with self.lock:
            t = self.txns[ref]
            t.status = "paid" if code == "000" else "failed"
            t.paid_paisa = t.amount_paisa if paid_paisa is None else paid_paisa
        fields = {
            "pp_Version": "1.1",
            "pp_TxnType": "MWALLET",
            "pp_Language": "EN",
            "pp_MerchantID": MERCHANT,
            "pp_TxnRefNo": ref,
            "pp_Amount": str(t.paid_paisa),
            "pp_TxnCurrency": "PKR",
            "pp_ResponseCode": code,
            "pp_ResponseMessage": "Thank you for Using JazzCash" if code == "000" else "Declined",
            "pp_RetreivalReferenceNo": f"R{ref[-8:]}",
        }
        fields["pp_SecureHash"] = secure_hash(fields, SALT)
        return fields

    def easypaisa_final(self, ref: str, ok: bool = True) -> dict[str, str]:
        """Settle an Easypaisa transaction; the (unsigned) final redirect's query."""
        self.settle_silently(ref, ok)
        return {"status": "0000" if ok else "0001", "desc": "ok", "orderRefNumber": ref}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _decrypt(hashed: str) -> str:
    dec = Cipher(algorithms.AES(HASH_KEY.encode()), modes.ECB()).decryptor()  # noqa: S305
    raw = dec.update(base64.b64decode(hashed)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(raw) + unpadder.finalize()).decode()


def _handler(standin: GatewayStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            return

        def _reply(self, code: int, body: str, kind: str = "text/html") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> str:
            return self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            route = {
                "/jazzcash/merchantform": self._jazz_form,
                "/jazzcash/inquire": self._jazz_inquire,
                "/easypaisa/Index.jsf": self._ep_form,
                "/easypaisa/inquire": self._ep_inquire,
            }.get(self.path)
            if route is None:
                self._reply(404, "no such page")
                return
            route()

        def _jazz_form(self) -> None:
            f = dict(parse_qsl(self._body(), keep_blank_values=True))
            if f.get("pp_SecureHash") != secure_hash(f, SALT):
                self._reply(400, "pp_SecureHash mismatch")
                return
            if (f.get("pp_MerchantID"), f.get("pp_Password")) != (MERCHANT, PASSWORD):
                self._reply(401, "unknown merchant")
                return
            ref = f["pp_TxnRefNo"]
            with standin.lock:
                if ref not in standin.txns:
                    standin.txns[ref] = Txn("jazzcash", ref, int(f["pp_Amount"]), f["pp_ReturnURL"])
            rupees = Decimal(int(f["pp_Amount"])) / 100
            self._reply(200, f"<h1>JazzCash stand-in</h1><p>Pay Rs {rupees} for {ref}</p>")

        def _jazz_inquire(self) -> None:
            f = {str(k): str(v) for k, v in json.loads(self._body()).items()}
            if f.get("pp_SecureHash") != secure_hash(f, SALT):
                self._reply(400, json.dumps({"pp_ResponseCode": "110"}), "application/json")
                return
            ref = f["pp_TxnRefNo"]
            standin.inquiries.append(ref)
            t = standin.txns.get(ref)
            codes = {"paid": "000", "failed": "199", "pending": "124"}
            out = {
                "pp_ResponseCode": "000" if t is not None else "404",
                "pp_ResponseMessage": "Inquiry successful" if t is not None else "not found",
                "pp_TxnRefNo": ref,
                "pp_PaymentResponseCode": codes[t.status] if t is not None else "",
                "pp_PaymentResponseMessage": t.status if t is not None else "",
                "pp_Amount": str(t.paid_paisa or t.amount_paisa) if t is not None else "",
                "pp_TxnCurrency": "PKR",
            }
            out["pp_SecureHash"] = secure_hash(out, SALT)
            self._reply(200, json.dumps(out), "application/json")

        def _ep_form(self) -> None:
            f = dict(parse_qsl(self._body(), keep_blank_values=True))
            names = ("amount", "autoRedirect", "expiryDate", "orderRefNum", "postBackURL")
            plain = "&".join(f"{k}={f[k]}" for k in sorted(f) if k in (*names, "storeId"))
            try:
                ok = _decrypt(f.get("merchantHashedReq", "")) == plain and f["storeId"] == STORE
            except (ValueError, KeyError):
                ok = False
            if not ok:
                self._reply(400, "merchantHashedReq does not match")
                return
            ref = f["orderRefNum"]
            paisa = int(Decimal(f["amount"]) * 100)
            with standin.lock:
                standin.txns.setdefault(ref, Txn("easypaisa", ref, paisa, f["postBackURL"]))
            self._reply(200, f"<h1>Easypaisa stand-in</h1><p>{ref}</p>")

        def _ep_inquire(self) -> None:
            want = base64.b64encode(f"{EP_USER}:{EP_PASS}".encode()).decode()
            if self.headers.get("Credentials") != want:
                self._reply(401, json.dumps({"responseCode": "0001"}), "application/json")
                return
            body = json.loads(self._body())
            t = standin.txns.get(body["orderId"])
            standin.inquiries.append(body["orderId"])
            status = {"paid": "PAID", "failed": "FAILED", "pending": "PENDING"}
            out = {
                "responseCode": "0000",
                "responseDesc": "SUCCESS",
                "orderId": body["orderId"],
                "transactionStatus": status[t.status] if t else "FAILED",
                "transactionAmount": float(Decimal(t.paid_paisa or t.amount_paisa) / 100)
                if t
                else None,
            }
            self._reply(200, json.dumps(out), "application/json")

    return Handler


def start() -> GatewayStandIn:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    standin = GatewayStandIn(server)
    server.RequestHandlerClass = _handler(standin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin
