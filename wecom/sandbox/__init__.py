"""A local stand-in for WeCom (企业微信) that speaks its documented HTTP protocol.

Tests and the demo point WECOM_API_BASE at it (`{base_url}/cgi-bin`). It keeps one
corporation in memory and answers with WeCom's JSON and errcodes. Start it with
`Sandbox().start()` (tests: the `wecom_sandbox` fixture, which also points
settings at it) or `manage.py wecom_sandbox --port 8900 --seed-demo`.

Credentials (SandboxState defaults; the fixture and the command use them):
corp_id "wwsandboxcorp", agent_id "1000002", agent secret "sandbox-agent-secret",
contact secret "sandbox-contact-secret".

WeCom's API, under /cgi-bin/ (every call but gettoken takes ?access_token=):
- GET  gettoken?corpid=&corpsecret=        → access_token, expires_in (token_ttl); the same
                                             token again while it is valid; 40001 bad secret
- POST externalcontact/groupchat/list      {status_filter, owner_filter{userid_list}, cursor, limit}
                                             → group_chat_list[{chat_id, status}], next_cursor
- POST externalcontact/groupchat/get       {chat_id, need_name} → group_chat{chat_id, name, owner,
                                             notice, create_time, member_list[{userid, type 1 staff/
                                             2 external, join_time, join_scene, unionid, group_nickname,
                                             name}]}; 40050 unknown or dismissed chat
- GET  externalcontact/get?external_userid= → external_contact, follow_user[{userid, remark,
                                             remark_mobiles}]; 84061 unknown contact
- POST externalcontact/add_msg_template    {chat_type "group", sender, chat_id_list, text{content},
                                             attachments} → msgid, fail_list (chats not the sender's);
                                             40050 when none is the sender's, 60111 sender not staff;
                                             or {chat_type "single" (the default), sender,
                                             external_userid[...], text} one-to-one → fail_list (not
                                             the sender's contacts); 84061 when none is
- POST externalcontact/get_groupmsg_task   {msgid, cursor, limit} → task_list[{userid, status 0 未发送/
                                             2 已发送, send_time}], next_cursor
- POST externalcontact/get_groupmsg_send_result {msgid, userid, cursor, limit} → send_list[{chat_id,
                                             userid, status 0 未发送 / 1 已发送 / 3 over the group's
                                             monthly limit ("已收到其他群发"), send_time}], next_cursor;
                                             a single task lists external_userid instead of chat_id,
                                             status 2 no longer the sender's contact, 3 over the
                                             contact's daily limit
- POST externalcontact/remind_groupmsg_send {msgid}; 3 per 24 h, then errcode 41063
- POST externalcontact/cancel_groupmsg_send {msgid}; 40058 once sent
- POST message/send                        {touser "a|b", msgtype "textcard", agentid, textcard{title,
                                             description, url, btntxt}} → invaliduser "x|y" for unknown
                                             userids; 81013 when none is known; 40056 wrong agentid
- GET  auth/getuserinfo?code=              → userid; 40029 unknown or used code (codes are single-use)
- GET  ticket/get?type=agent_config        → ticket, expires_in (signs wx.agentConfig; agent secret)
  (and the older user/getuserinfo → UserId)
Tokens: unknown → 40014, expired → 42001.

The control API, under /sandbox/ (JSON in and out; not WeCom's, no token):
- POST reset                               forget everything
- GET  state                               staff, contacts, groups (with members), settings, token_requests
- POST config        {token_ttl?, group_monthly_limit?, single_daily_limit?}   (defaults 7200 s,
                                           4 posts a month per group, 1 one-to-one post a day per contact)
- POST tokens/expire                       every token issued so far answers 42001 from now on
- POST faults        {errcode? | http_status?, count=1, path?}   the next `count` API calls (to `path`
                                             only, e.g. "message/send", when given) answer that errcode
                                             (45009, -1, ...) or HTTP status (500, ...)
- GET  calls                               the API paths called so far, in order
- POST staff         {userid, name?}       a member of the corporation
- POST contacts      {name, external_userid?, unionid?, follow_user[{userid, remark?, remark_mobiles?}]}
                                           → the contact as externalcontact/get shows it; emits
                                             change_external_contact/add_external_contact per follower
- POST groups        {name, owner, members[userid | {userid, type?, join_time?, join_scene?, name?,
                     group_nickname?, unionid?}], notice?, chat_id?} → the group; emits create
                     (members whose userid is staff are type 1, the others type 2)
- POST groups/<chat_id>/rename  {name}     emits update/change_name
- POST groups/<chat_id>/notice  {notice}   emits update/change_notice
- POST groups/<chat_id>/owner   {owner}    emits update/change_owner
- POST groups/<chat_id>/members {add[...as in groups], remove[userid], join_scene?, quit_scene?}
                                           emits update/add_member and/or update/del_member
- POST groups/<chat_id>/dismiss            emits dismiss; the chat then answers 40050
- GET  groupmsg                            every 群发 task with its per-group results and reminds
- POST groupmsg/<msgid>/confirm            the owner sends it: each group (contact) 已发送, or status 3
                                           when over its limit; the task becomes 已发送
- POST groupmsg/<msgid>/refuse             the owner will not send it: it stays 未发送 for good
- GET  messages                            app messages received [{msgid, touser, textcard, at}]
- POST oauth/code    {userid}              → {code} for auth/getuserinfo
- POST oauth/member  {userid}              the member signed in to the WeCom app: from then on
                                           GET /connect/oauth2/authorize?appid=&redirect_uri=&state=
                                           (WeCom's OAuth2 page; point WECOM_OAUTH_AUTHORIZE_URL at it)
                                           redirects straight back with ?code=&state=, as WeCom does
                                           for snsapi_base
- POST callback      {url, token, aes_key} where to POST callbacks (url may be "" to only record
                                           them); from then on every change above is POSTed to url
                                           signed and encrypted as WeCom does (receiveid = corp_id)
- GET  callbacks                           every callback built: {event, fields, query{msg_signature,
                                           timestamp, nonce}, body, status (the CRM's HTTP answer)}
                                           — a test without a live server replays query+body itself
"""

from wecom.sandbox.server import Sandbox
from wecom.sandbox.state import SandboxState

__all__ = ["Sandbox", "SandboxState"]
