"""WeCom's callback encryption (加解密方案): signature, AES-256-CBC, PKCS#7 to 32.

What WeCom documents (developer.work.weixin.qq.com, 加解密方案说明):
- msg_signature = sha1(sorted([token, timestamp, nonce, msg_encrypt]) joined);
- AESKey = base64decode(EncodingAESKey + "="), 32 bytes; IV = AESKey[:16];
- plaintext = random(16) + msg_len (4 bytes, big-endian) + msg + receiveid,
  PKCS#7-padded to a multiple of 32 bytes (not AES's 16), then base64.

Written here on `cryptography` rather than taken from wechatpy: wechatpy's
last release is from 2021, and its crypto module drags in its whole client,
its XML parser (xmltodict) and optional-dependency fallbacks, for some sixty
lines of arithmetic that the official samples below pin down exactly
(tests/wecom/test_crypto.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE = 32


class CallbackCryptoError(Exception):
    """A callback that is not WeCom's: wrong signature, key, receiver or a broken body."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    parts = sorted([token, str(timestamp), str(nonce), encrypted])
    return hashlib.sha1("".join(parts).encode()).hexdigest()


def _pad(data: bytes) -> bytes:
    amount = BLOCK_SIZE - len(data) % BLOCK_SIZE
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    if not data:
        raise CallbackCryptoError("empty plaintext")
    amount = data[-1]
    if not 1 <= amount <= BLOCK_SIZE or data[-amount:] != bytes([amount]) * amount:
        raise CallbackCryptoError("bad padding")
    return data[:-amount]


class CallbackCrypto:
    """Sign, verify, encrypt and decrypt with one corporation's token and EncodingAESKey."""

    def __init__(self, *, token: str, encoding_aes_key: str, receive_id: str):
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            self._key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not base64") from None
        self._token = token
        self._receive_id = receive_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return signature(self._token, timestamp, nonce, encrypted)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.sign(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, (msg_signature or "").lower()):
            raise CallbackCryptoError("signature mismatch")

    def encrypt(self, message: str, *, random_prefix: bytes | None = None) -> str:
        raw = message.encode()
        prefix = random_prefix if random_prefix is not None else secrets.token_bytes(16)
        plain = prefix + struct.pack(">I", len(raw)) + raw + self._receive_id.encode()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackCryptoError("not base64") from None
        if not data or len(data) % 16:
            raise CallbackCryptoError("not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < 20:
            raise CallbackCryptoError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise CallbackCryptoError("bad message length")
        if not hmac.compare_digest(receive_id, self._receive_id.encode()):
            raise CallbackCryptoError("receiveid mismatch")
        try:
            return message.decode()
        except UnicodeDecodeError:
            raise CallbackCryptoError("message is not UTF-8") from None

    def verify_and_decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt_and_sign(self, message: str, *, timestamp: str, nonce: str) -> tuple[str, str]:
        """(Encrypt, msg_signature) for a message: what WeCom posts, and what the sandbox sends."""
        encrypted = self.encrypt(message)
        return encrypted, self.sign(timestamp, nonce, encrypted)
