from notifications.selectors import inbox_for


def unread_notifications(request) -> dict:
    """The unread in-app count for the page header (one COUNT on an indexed column), unless
    the view counted them already for its own use (`request.unread_notifications`)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    count = getattr(request, "unread_notifications", None)
    if count is None:
        count = inbox_for(user).unread().count()
    return {"unread_notifications": count}
