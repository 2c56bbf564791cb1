"""Every write to service groups (客户群, seed 000 §02), one module per subject.

`groups` (a group's shape and who manages it), `members`, `messages` (inquiries
and replies), `broadcasts` (群发), `reply_templates` (话术) and `ingest`
(batches of messages from WeCom). Each service takes keyword-only arguments,
runs in one transaction, checks who may act and validates before saving.
"""
