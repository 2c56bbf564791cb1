"""Run the WeCom sandbox (wecom/sandbox) in the foreground, for the demo and manual tests.

It lives in crm/ because --seed-demo reads the customer archive, which the
wecom app below it may not import.
"""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from customers.models import Contact
from wecom.sandbox import Sandbox, SandboxState

DEMO_GROUPS = 4
MEMBERS_PER_GROUP = 5


class Command(BaseCommand):
    help = "Run a local stand-in for WeCom (企业微信) speaking its API; see wecom/sandbox/__init__.py."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--token-ttl", type=int, default=7200, help="Seconds an access_token lives.")
        parser.add_argument(
            "--seed-demo",
            action="store_true",
            help="Staff userids for the demo users (setting wecom_userid where empty) and a few groups "
            "whose external members carry demo contacts' mobiles as remark_mobiles.",
        )
        parser.add_argument(
            "--callback-url",
            default="",
            help="The CRM's callback URL (e.g. http://127.0.0.1:8000/wecom/callback/): group changes are "
            "POSTed there, signed with WECOM_CALLBACK_TOKEN and WECOM_CALLBACK_AES_KEY.",
        )

    def handle(self, *args, host, port, token_ttl, seed_demo, callback_url, **options):
        state = SandboxState(
            corp_id=settings.WECOM_CORP_ID or "wwsandboxcorp",
            agent_id=settings.WECOM_AGENT_ID or "1000002",
            agent_secret=settings.WECOM_AGENT_SECRET or "sandbox-agent-secret",
            contact_secret=settings.WECOM_CONTACT_SECRET or "sandbox-contact-secret",
            token_ttl=token_ttl,
        )
        try:
            sandbox = Sandbox(state, host=host, port=port)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from None
        if seed_demo:
            self._seed(state)
        if callback_url:
            if not (settings.WECOM_CALLBACK_TOKEN and settings.WECOM_CALLBACK_AES_KEY):
                raise CommandError("--callback-url needs WECOM_CALLBACK_TOKEN and WECOM_CALLBACK_AES_KEY")
            sandbox.set_callback(
                url=callback_url, token=settings.WECOM_CALLBACK_TOKEN, aes_key=settings.WECOM_CALLBACK_AES_KEY
            )
        self.stdout.write(
            f"WeCom sandbox on {sandbox.base_url} (corp {state.corp_id}, agent {state.agent_id}).\n"
            f"Point the CRM at it: WECOM_API_BASE={sandbox.api_base} WECOM_CORP_ID={state.corp_id} "
            f"WECOM_AGENT_ID={state.agent_id} and the two secrets.\n"
            f"Control API: {sandbox.base_url}/sandbox/state"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        sandbox.start()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            sandbox.stop()

    @transaction.atomic
    def _seed(self, state: SandboxState) -> None:
        users = list(User.objects.filter(is_active=True).order_by("id"))
        missing = [user for user in users if not user.wecom_userid]
        for user in missing:
            user.wecom_userid = user.username
        User.objects.bulk_update(missing, ["wecom_userid"])
        for user in users:
            state.add_staff(user.wecom_userid, user.real_name or user.username)
        managers = [user for user in users if user.role == User.Role.ACCOUNT_MANAGER]
        groups = 0
        for manager in managers:
            if groups >= DEMO_GROUPS:
                break
            contacts = list(
                Contact.objects.filter(customer__manager=manager)
                .exclude(mobile="")
                .select_related("customer")
                .order_by("id")[:MEMBERS_PER_GROUP]
            )
            if not contacts:
                continue
            members = []
            for contact in contacts:
                added = state.add_contact(
                    name=contact.name,
                    follow_user=[
                        {
                            "userid": manager.wecom_userid,
                            "remark": contact.customer.name,
                            "remark_mobiles": [contact.mobile],
                        }
                    ],
                )
                members.append(added["external_contact"]["external_userid"])
            state.create_group(
                name=f"{manager.org_unit or ''}供电服务群{groups + 1}",
                owner=manager.wecom_userid,
                members=members,
            )
            groups += 1
        self.stdout.write(
            f"Seeded {len(users)} staff userids ({len(missing)} users got wecom_userid = username) "
            f"and {groups} groups."
        )
