"""Group messages from WeCom's chat archive (会话内容存档).

WeCom keeps the messages of staff members with archiving enabled; the
official SDK (libWeWorkFinanceSdk_C) hands them out by sequence number,
`GetChatData(seq, limit)`, each encrypted for the corporation's RSA key. Once
decrypted a message is WeCom's JSON: `msgid`, `action` (send, recall,
switch), `from` (a staff userid, or an external contact's external_userid,
which starts with "wo" or "wm"), `tolist`, `roomid` (the group chat's id,
empty in a one-to-one chat), `msgtime` (milliseconds), `msgtype` (text,
image, revoke, ...) and the body under the type's name (`text.content`,
`revoke.pre_msgid`).

`sources` reads them (`fetch(after_seq, limit)`) from one of:

- the spool directory (WECOM_ARCHIVE_SOURCE=spool): JSON-lines files written
  by a separate puller that runs the SDK. The format:

  * files named `<first seq, 20 digits>.jsonl` (e.g. `00000000000000000001.jsonl`)
    in WECOM_ARCHIVE_SPOOL_DIR, so their names sort in sequence order; other
    names are ignored;
  * one decrypted message per line, UTF-8 JSON, WeCom's fields as they are
    plus the archive's `seq` (an integer) at the top level:
    `{"seq": 7, "msgid": "...", "action": "send", "from": "wmXXXX",
    "tolist": ["zhangsan"], "roomid": "wrXXXX", "msgtime": 1733120000000,
    "msgtype": "text", "text": {"content": "请问什么时候来电？"}}`;
  * within and across files, seq only grows; every line ends with a newline.
    A last line without one is still being written: it is read next time.
    A line that is not such a message is skipped with a log line naming the
    file and line number (never its text).
  * the CRM only reads the spool; a file whose messages all lie at or before
    the cursor (admin: 会话存档读取位置) may be removed by whoever writes it.
    `manage.py archive_spool_pull` is such a writer: it runs the SDK and puts
    each batch in place whole (a hidden temporary file, then a rename).

- the SDK in this process (WECOM_ARCHIVE_SOURCE=sdk), through the
  `pywecomarchive` binding (see sources.SdkSource).

`services` stores them: `archive_pull` reads the next batch after the
source's cursor and ingests its group text messages through
groups.services.ingest (room → group by `ServiceGroup.external_id`, sender →
contact by `wecom_external_userid` or user by `wecom_userid`, msgid as the
idempotency key); what cannot be placed yet waits in `HeldArchiveMessage`.
"""
