"""Passwords (bcrypt) and access tokens (python-jose JWTs), kept apart from routing so both are testable alone.

Why a class: the signing key, algorithm and lifetime come from settings of one app instance; nothing is global.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
from jose import JWTError, jwt

from secustream.config import DEFAULT_SECRET_KEY, Settings, SettingsError

MIN_SECRET_KEY_LENGTH = 32
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; longer passwords are refused rather than silently truncated


class TokenError(Exception):
    """The bearer token is unusable; the message is safe to return to the client."""


def check_secret_key(settings: Settings) -> None:
    """Refuse to serve with a missing, default or short signing key unless DEV_MODE says otherwise."""
    key = settings.SECRET_KEY
    if settings.DEV_MODE:
        return
    if not key or key == DEFAULT_SECRET_KEY:
        raise SettingsError("SECRET_KEY is missing or the default 'change-me': set a random value of at least "
                            f"{MIN_SECRET_KEY_LENGTH} characters (e.g. `openssl rand -hex 32`), or DEV_MODE=true "
                            "for local development only")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(f"SECRET_KEY is too short ({len(key)} characters): use at least "
                            f"{MIN_SECRET_KEY_LENGTH} random characters")


def generate_secret_key() -> str:
    return secrets.token_urlsafe(48)


class PasswordHasher:
    """bcrypt with a configurable cost; ``verify`` of an unknown user still spends one hash (no timing oracle)."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds))

    def hash(self, password: str) -> str:
        data = password.encode()
        if len(data) > MAX_PASSWORD_BYTES:
            raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
        return bcrypt.hashpw(data, bcrypt.gensalt(self.rounds)).decode()

    def verify(self, password: str, hashed: str | None) -> bool:
        data = password.encode()
        if len(data) > MAX_PASSWORD_BYTES or hashed is None:
            bcrypt.checkpw(b"x", self._dummy)
            return False
        try:
            return bcrypt.checkpw(data, hashed.encode())
        except ValueError:
            return False


@dataclass(frozen=True)
class TokenCodec:
    secret: str
    algorithm: str
    expire_minutes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCodec:
        return cls(settings.SECRET_KEY, settings.ALGORITHM, settings.ACCESS_TOKEN_EXPIRE_MINUTES)

    def issue(self, subject: str, role: str, now: datetime | None = None) -> tuple[str, int]:
        """A signed token for ``subject``; returns it with its lifetime in seconds."""
        issued = now or datetime.now(UTC)
        lifetime = timedelta(minutes=self.expire_minutes)
        claims = {"sub": subject, "role": role, "iat": int(issued.timestamp()),
                  "exp": int((issued + lifetime).timestamp()), "jti": secrets.token_hex(8)}
        return jwt.encode(claims, self.secret, algorithm=self.algorithm), int(lifetime.total_seconds())

    def subject(self, token: str) -> str:
        """The verified subject; only the configured algorithm is accepted (so never "none")."""
        return self.verify(token)[0]

    def verify(self, token: str) -> tuple[str, int]:
        """The verified subject and expiry (epoch seconds); raises TokenError with a client-safe message."""
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise TokenError("malformed token") from None
        if header.get("alg") != self.algorithm:
            raise TokenError("token algorithm not accepted")
        try:
            claims = jwt.decode(token, self.secret, algorithms=[self.algorithm],
                                options={"require_exp": True, "require_sub": True, "verify_aud": False})
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except JWTError:
            raise TokenError("invalid token") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenError("token has no subject")
        return sub, int(claims["exp"])


class VerifiedTokens:
    """Subjects of tokens whose signature already verified, reused until each token's own expiry.

    Why: decoding and verifying a JWT cost about a tenth of the events list's CPU per request, and a token
    string that verified once with this key verifies again. Only the signature check is remembered, never
    the account: the user row is still read on every request, so disabling a user takes effect at once.
    Bounded (oldest entries go first) and per app instance; only valid tokens get in.
    """

    def __init__(self, codec: TokenCodec, size: int = 4096) -> None:
        self.codec = codec
        self.size = size
        self._seen: dict[str, tuple[str, int]] = {}

    def subject(self, token: str) -> str:
        seen = self._seen.get(token)
        if seen is not None and time.time() < seen[1]:
            return seen[0]
        sub, exp = self.codec.verify(token)  # raises TokenError (expired ones included)
        self._seen.pop(token, None)
        if len(self._seen) >= self.size:
            del self._seen[next(iter(self._seen))]
        self._seen[token] = (sub, exp)
        return sub


def dev_settings(settings: Settings, password: str | None = None) -> tuple[Settings, str]:
    """For `secustream up`: a per-run signing key when none is set, and a dev admin when none is configured.

    ``password`` is the dev admin's (``up`` keeps it in its data dir, so a second run prints one
    that still works: the admin is created once and never changed); one is generated when None.
    Returns the settings to build the app with and a one-line sign-in hint for the console.
    """
    update: dict[str, object] = {}
    if settings.SECRET_KEY in ("", DEFAULT_SECRET_KEY):
        update["SECRET_KEY"] = generate_secret_key()
    if settings.FIRST_ADMIN_USERNAME and settings.FIRST_ADMIN_PASSWORD:
        hint = f"{settings.FIRST_ADMIN_USERNAME} (password from FIRST_ADMIN_PASSWORD)"
    else:
        password = password or secrets.token_urlsafe(12)
        update.update(FIRST_ADMIN_USERNAME=settings.FIRST_ADMIN_USERNAME or "admin", FIRST_ADMIN_PASSWORD=password)
        hint = f"{update['FIRST_ADMIN_USERNAME']} / {password}   (dev admin of this data dir)"
    return settings.model_copy(update=update), hint
