from notifications.selectors import inbox_for


def unread_notifications(request) -> dict:
    """The unread in-app count for the page header (one COUNT on an indexed column)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": inbox_for(user).unread().count()}
