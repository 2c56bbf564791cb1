"""Signals other layers listen to (they may import groups; groups never imports them)."""

from django.dispatch import Signal

# A group post (企业群发 to one WeCom group) changed state: waiting → sent or not_sent.
# Sent inside the transaction that records it, with
# broadcast_id, group_id, state (GroupPostState value) and reason (Chinese text, may be "").
# The reach records of customers told through that group follow it.
group_post_state_changed = Signal()

# A broadcast (群发) was published and its important customers got their personal SMS or
# e-mail from it. Sent inside the publishing transaction, with broadcast_id. Reach writes
# the reach records of those customers at once.
broadcast_published = Signal()
