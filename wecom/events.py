"""Handlers of WeCom callback events, registered by the apps above wecom.

    from wecom.events import event_handler

    @event_handler("change_external_chat")
    def on_chat_change(event):          # event: wecom.models.CallbackEvent
        ...                              # event.change_type, event.payload["ChatId"], ...

Register in the app's `AppConfig.ready` (import the module that holds the
handlers). A handler must be idempotent: after a worker dies mid-way the event
is handled again. It raises to say "try again later" (the event goes back to
pending with a growing delay, FAILED after a few tries); an event no handler
is registered for is marked IGNORED.
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[..., None]

_handlers: dict[str, list[Handler]] = {}


def event_handler(event: str) -> Callable[[Handler], Handler]:
    """Register `handler` for WeCom event `event` (the XML's <Event>); registering twice is a no-op."""

    def register(handler: Handler) -> Handler:
        handlers = _handlers.setdefault(event, [])
        if handler not in handlers:
            handlers.append(handler)
        return handler

    return register


def handlers_for(event: str) -> list[Handler]:
    return list(_handlers.get(event, ()))


def unregister(event: str, handler: Handler) -> None:
    """For tests that register a handler of their own."""
    if handler in _handlers.get(event, ()):
        _handlers[event].remove(handler)
