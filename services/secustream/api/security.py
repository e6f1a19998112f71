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


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says: the account (id, not name: a re-created name is another account), the
    account's token version it was issued under, and its expiry (epoch seconds)."""

    user_id: int
    version: int
    expires: int


@dataclass(frozen=True)
class TokenCodec:
    secret: str
    algorithm: str
    expire_minutes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCodec:
        return cls(settings.SECRET_KEY, settings.ALGORITHM, settings.ACCESS_TOKEN_EXPIRE_MINUTES)

    def issue(self, user_id: int, version: int, role: str, now: datetime | None = None) -> tuple[str, int]:
        """A signed token for account ``user_id`` at token ``version``; returns it with its lifetime in seconds.

        ``role`` is informational (the dashboard shows it); every request reads the role from the database.
        """
        issued = now or datetime.now(UTC)
        lifetime = timedelta(minutes=self.expire_minutes)
        claims = {"sub": str(user_id), "ver": version, "role": role, "iat": int(issued.timestamp()),
                  "exp": int((issued + lifetime).timestamp()), "jti": secrets.token_hex(8)}
        return jwt.encode(claims, self.secret, algorithm=self.algorithm), int(lifetime.total_seconds())

    def verify(self, token: str) -> TokenClaims:
        """The verified claims; only the configured algorithm is accepted (so never "none").

        Raises TokenError with a client-safe message.
        """
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
        sub, version = claims.get("sub"), claims.get("ver")
        if not isinstance(sub, str) or not sub.isdigit() or not 0 < int(sub) < 2**31:
            raise TokenError("token has no valid subject")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise TokenError("token has no valid version (sign in again)")
        return TokenClaims(int(sub), version, int(claims["exp"]))


class VerifiedTokens:
    """Claims of tokens whose signature already verified, reused until each token's own expiry.

    Why: decoding and verifying a JWT cost about a tenth of the events list's CPU per request, and a token
    string that verified once with this key verifies again. Only the signature check is remembered, never
    the account: every request still reads the user row and compares its ``token_version`` with the
    token's, so a revocation (password reset, disable, role change, logout, delete) refuses the token on
    the very next request, whatever this cache holds. Bounded (oldest entries go first) and per app
    instance; only valid tokens get in.
    """

    def __init__(self, codec: TokenCodec, size: int = 4096) -> None:
        self.codec = codec
        self.size = size
        self._seen: dict[str, TokenClaims] = {}

    def claims(self, token: str) -> TokenClaims:
        seen = self._seen.get(token)
        if seen is not None and time.time() < seen.expires:
            return seen
        verified = self.codec.verify(token)  # raises TokenError (expired ones included)
        self._seen.pop(token, None)
        if len(self._seen) >= self.size:
            del self._seen[next(iter(self._seen))]
        self._seen[token] = verified
        return verified


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
