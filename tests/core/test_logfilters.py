import logging

from core.logfilters import MaskMobileNumbers


def record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("x", logging.INFO, __file__, 1, message, args, None)


def test_it_masks_credentials_in_url_query_strings():
    entry = record('"GET /cgi-bin/gettoken?corpid=ww1&corpsecret=S3cret HTTP/1.1" %s', 200)
    MaskMobileNumbers().filter(entry)
    assert entry.getMessage() == '"GET /cgi-bin/gettoken?corpid=ww1&corpsecret=*** HTTP/1.1" 200'
    entry = record("POST /cgi-bin/message/send?access_token=abc-DEF_1&debug=1")
    MaskMobileNumbers().filter(entry)
    assert entry.getMessage() == "POST /cgi-bin/message/send?access_token=***&debug=1"


def test_it_leaves_names_that_only_end_in_key_alone():
    entry = record("dedupe_key=ticket:1 for 13595561359")
    MaskMobileNumbers().filter(entry)
    assert entry.getMessage() == "dedupe_key=ticket:1 for 135****1359"
