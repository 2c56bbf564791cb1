"""Callback crypto against WeCom's official samples (加解密方案说明), and round trips."""

import pytest

from wecom.crypto import CallbackCrypto, CallbackCryptoError

# The values of WeCom's published sample (token, EncodingAESKey, corpid as receiveid).
SAMPLE = {
    "token": "QDG6eK",
    "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "receive_id": "wx5823bf96d3bd56c7",
}
VERIFY_URL = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "encrypted": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
POST_MESSAGE = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
    "encrypted": (
        "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W"
        "/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+"
        "HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrX"
        "JB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3f"
        "VKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
    ),
}


def sample(**overrides) -> CallbackCrypto:
    return CallbackCrypto(**{**SAMPLE, **overrides})


def test_the_official_url_verification_sample_decrypts():
    assert sample().verify_and_decrypt(**VERIFY_URL) == "1616140317555161061"


def test_the_official_message_sample_decrypts():
    message = sample().verify_and_decrypt(**POST_MESSAGE)
    assert message.startswith("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>")
    assert "<Content><![CDATA[hello]]></Content>" in message


def test_the_signature_is_sha1_of_the_sorted_parts():
    crypto = sample()
    assert (
        crypto.sign(VERIFY_URL["timestamp"], VERIFY_URL["nonce"], VERIFY_URL["encrypted"])
        == VERIFY_URL["msg_signature"]
    )


def test_a_round_trip_keeps_chinese_text():
    crypto = sample()
    encrypted, signature = crypto.encrypt_and_sign(
        "<xml><Content>停电通知</Content></xml>", timestamp="1", nonce="2"
    )
    assert (
        crypto.verify_and_decrypt(signature, "1", "2", encrypted) == "<xml><Content>停电通知</Content></xml>"
    )
    # Random prefix: the same text never encrypts the same way twice.
    assert crypto.encrypt("x") != crypto.encrypt("x")


@pytest.mark.parametrize("length", [0, 11, 12, 43, 44, 200])
def test_padding_is_to_32_bytes(length):
    crypto = sample()
    text = "a" * length
    assert crypto.decrypt(crypto.encrypt(text)) == text


def test_a_wrong_signature_is_refused():
    with pytest.raises(CallbackCryptoError):
        sample().verify_and_decrypt(**{**VERIFY_URL, "msg_signature": "0" * 40})
    with pytest.raises(CallbackCryptoError):
        sample().verify_and_decrypt(**{**VERIFY_URL, "timestamp": "1409659590"})
    with pytest.raises(CallbackCryptoError):
        sample(token="other").verify_and_decrypt(**VERIFY_URL)


def test_a_wrong_key_is_refused():
    other_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    with pytest.raises(CallbackCryptoError):
        sample(encoding_aes_key=other_key).decrypt(VERIFY_URL["encrypted"])


def test_another_receiver_is_refused():
    with pytest.raises(CallbackCryptoError):
        sample(receive_id="wwother").decrypt(VERIFY_URL["encrypted"])


@pytest.mark.parametrize("encrypted", ["", "not base64!", "AAAA", "QUJD" * 5])
def test_garbage_is_refused(encrypted):
    with pytest.raises(CallbackCryptoError):
        sample().decrypt(encrypted)


def test_a_bad_encoding_aes_key_is_a_configuration_error():
    with pytest.raises(ValueError):
        CallbackCrypto(token="t", encoding_aes_key="short", receive_id="c")
