from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReachConfig(AppConfig):
    """Who was told what, through which channel: one record per customer and notice."""

    name = "reach"
    verbose_name = _("客户触达")

    def ready(self) -> None:
        from groups.signals import broadcast_published, group_post_state_changed

        group_post_state_changed.connect(_follow_group_post, dispatch_uid="reach.follow_group_post")
        broadcast_published.connect(_adopt_broadcast, dispatch_uid="reach.adopt_broadcast")


def _follow_group_post(sender, *, broadcast_id, group_id, state, reason="", **kwargs):
    """A WeCom group post changed state: the reach records riding on it follow at once
    (reach_refresh catches up with any that were written after the change)."""
    from reach.services import reach_group_post_state

    reach_group_post_state(broadcast_id=broadcast_id, group_id=group_id, state=state, reason=reason)


def _adopt_broadcast(sender, *, broadcast_id, **kwargs):
    """A broadcast was published: its important customers get their reach records in the
    same transaction (reach_refresh adopts any it missed)."""
    from reach.services import reach_broadcast_adopt

    reach_broadcast_adopt(broadcast_id=broadcast_id)
