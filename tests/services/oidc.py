"""A tiny OpenID Connect issuer for the OAUTHBEARER tests: a client-credentials token endpoint
that signs RS256 JWTs, and the JWKS endpoint Apache Kafka verifies them with. It runs on a thread
of the test process, on a free port."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class OidcIssuer:
    """Issues tokens to the clients in ``clients`` (id -> secret); ``requests`` counts them."""

    def __init__(self, clients: dict[str, str], audience: str = "kafka", lifetime_seconds: int = 3600):
        self.clients = clients
        self.audience = audience
        self.issuer = "conveyor-tests"
        self.lifetime = lifetime_seconds
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "conveyor-test-key"
        self.token_requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _send(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/jwks":
                    self._send(200, issuer.jwks())
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self):
                if self.path != "/token":
                    self._send(404, {"error": "not_found"})
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                auth = self.headers.get("Authorization", "")
                client_id = secret = None
                if auth.startswith("Basic "):
                    client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                if form.get("grant_type") != "client_credentials":
                    self._send(400, {"error": "unsupported_grant_type"})
                    return
                if client_id not in issuer.clients or issuer.clients[client_id] != secret:
                    self._send(401, {"error": "invalid_client"})
                    return
                issuer.token_requests += 1
                token = issuer.token(client_id, form.get("scope"))
                self._send(
                    200, {"access_token": token, "token_type": "bearer", "expires_in": issuer.lifetime}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks"

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _uint(numbers.n),
                    "e": _uint(numbers.e),
                }
            ]
        }

    def token(self, subject: str, scope: str | None) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        claims = {
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.lifetime,
            "iss": self.issuer,
        }
        if scope:
            claims["scope"] = scope
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def stop(self):
        self.server.shutdown()
